"""Network configs on disk, the libcni way: a directory's `*.conf`, `*.conflist`, `*.json` in
lexical order; a file is a conflist when it has `plugins`, else a single plugin that needs `type`.
"""

from __future__ import annotations

import os

from multus import jsonlite
from multus.cni.errors import INVALID_CONFIG, CniError

EXTENSIONS = (".conf", ".conflist", ".json")


def conf_files(directory: str) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise CniError(INVALID_CONFIG, f"cannot read network config directory {directory}: {exc.strerror}") from None
    return [os.path.join(directory, n) for n in names if n.endswith(EXTENSIONS)
            and os.path.isfile(os.path.join(directory, n))]


def load_file(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            conf = jsonlite.loads_object(f.read())
    except OSError as exc:
        raise CniError(INVALID_CONFIG, f"cannot read network config {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CniError(INVALID_CONFIG, f"network config {path} {exc}") from None
    if "plugins" not in conf and not conf.get("type"):
        hint = " (perhaps this is supposed to be a .conflist?)" if not path.endswith(".conflist") else ""
        raise CniError(INVALID_CONFIG, f"network config {path} has neither 'type' nor 'plugins'{hint}")
    return conf


def load_path(path: str) -> dict:
    """A file, or the first config file of a directory."""
    if os.path.isdir(path):
        files = conf_files(path)
        if not files:
            raise CniError(INVALID_CONFIG, f"no network config files in {path}")
        return load_file(files[0])
    if not os.path.exists(path):
        raise CniError(INVALID_CONFIG, f"network config {path} does not exist")
    return load_file(path)


def find_by_name(directory: str, name: str) -> dict | None:
    """The first config in `directory` whose `name` is `name`; None when there is none."""
    for path in conf_files(directory):
        try:
            conf = load_file(path)
        except CniError:
            continue
        if conf.get("name") == name:
            return conf
    return None
