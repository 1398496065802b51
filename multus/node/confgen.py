"""The generated `00-multus.conf` (or `.conflist` for CNI >= 1.0.0), from the node's primary network config.

The primary is the lexically first `*.conf`/`*.conflist` of the CNI config directory that is
not ours (multus-behaviour.md §20-21). Thin: multus with the primary as its only static
delegate. Thick: `type: multus-shim` with `clusterNetwork` pointing at the primary's file, plus
what the shim needs to run a request itself while the daemon is away (kubeconfig, cniDir,
confDir, binDir, the daemon's socket). Capabilities: the union of those the primary enables.
"""

from __future__ import annotations

import hashlib
import json
import os

from multus.cni import conffiles
from multus.cni import version as ver
from multus.cni.errors import INVALID_CONFIG, CniError
from multus.fileutil import makedirs_private, write_atomic

GENERATED_PREFIX = "00-multus"
NETWORK_NAME = "multus-cni-network"
PASS_THROUGH = ("logLevel", "logFile", "logToStderr", "namespaceIsolation", "globalNamespaces", "multusNamespace",
                "systemNamespaces", "defaultNetworks", "readinessindicatorfile", "cniDir", "binDir", "confDir",
                "daemonSocketDir", "daemonConfig", "daemonFallback", "nadAllowedPlugins", "kubeconfig")


def primary_file(conf_dir: str, name: str = "") -> str | None:
    if name:
        path = os.path.join(conf_dir, name)
        return path if os.path.isfile(path) else None
    for path in conf_files(conf_dir):
        if not os.path.basename(path).startswith(GENERATED_PREFIX):
            return path
    return None


def conf_files(conf_dir: str) -> list[str]:
    try:
        return [p for p in conffiles.conf_files(conf_dir) if not p.endswith(".json")]
    except CniError:
        return []


def capabilities_union(primary: dict) -> dict:
    union: dict = {}
    for plugin in [primary, *(primary.get("plugins") or [])]:
        caps = plugin.get("capabilities") if isinstance(plugin, dict) else None
        if isinstance(caps, dict):
            union.update({k: True for k, enabled in caps.items() if enabled is True})
    return union


def generate(primary_path: str, primary: dict, kind: str, options: dict, cni_version: str = "",
             name: str = NETWORK_NAME) -> tuple[str, dict]:
    """(file name, document) of the multus config for this primary; `kind` is "thin" or "thick"."""
    version = cni_version or primary.get("cniVersion")
    if not isinstance(version, str) or not version:
        raise CniError(INVALID_CONFIG, f"{primary_path} has no cniVersion; pass one explicitly")
    ver.require_supported(version)
    plugin: dict = {"type": "multus" if kind == "thin" else "multus-shim"}
    caps = capabilities_union(primary)
    if caps:
        plugin["capabilities"] = caps
    plugin.update({k: v for k, v in options.items() if k in PASS_THROUGH and v not in (None, "")})
    if kind == "thin":
        plugin["delegates"] = [primary]
    else:
        plugin["clusterNetwork"] = primary_path
    if ver.at_least(version, "1.0.0"):
        return f"{GENERATED_PREFIX}.conflist", {"cniVersion": version, "name": name, "plugins": [plugin]}
    return f"{GENERATED_PREFIX}.conf", {"cniVersion": version, "name": name, **plugin}


def write_generated(conf_dir: str, filename: str, doc: dict) -> str:
    """Atomically, 0600; the other generated variant (.conf vs .conflist) is removed."""
    makedirs_private(conf_dir)
    path = os.path.join(conf_dir, filename)
    write_atomic(path, (json.dumps(doc, indent=2) + "\n").encode())
    remove_generated(conf_dir, keep=filename)
    return path


def remove_generated(conf_dir: str, keep: str = "") -> None:
    for name in (f"{GENERATED_PREFIX}.conf", f"{GENERATED_PREFIX}.conflist"):
        if name != keep:
            try:
                os.unlink(os.path.join(conf_dir, name))
            except FileNotFoundError:
                pass


def regenerate(primary: str, seen: str | None, conf_dir: str, kind: str, options: dict, cni_version: str = "",
               primary_as: str = "", own_name: bool = False) -> tuple[str, str | None]:
    """The primary's digest, and the config generated from it into `conf_dir` (None: the primary is
    unchanged since the digest `seen`). `primary_as`: the primary's path as the runtime sees it;
    `own_name`: the generated network takes the primary's name (upstream's overrideNetworkName)."""
    current = digest(primary)
    if current == seen:
        return current, None
    conf = conffiles.load_file(primary)
    name = str(conf.get("name") or NETWORK_NAME) if own_name else NETWORK_NAME
    filename, doc = generate(primary_as or primary, conf, kind, options, cni_version, name)
    return current, write_generated(conf_dir, filename, doc)


def digest(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return ""
