"""Running a delegate's IPAM plugin and reading its answer in any result version."""

from __future__ import annotations

import json

from multus.cni import invoke
from multus.cni import result as cniresult
from multus.cni import version as ver

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from multus.cni.env import CmdArgs


def _exec(conf: dict, cmd: CmdArgs, command: str) -> bytes:
    kind = conf["ipam"]["type"]
    env = dict(cmd.environ, CNI_COMMAND=command)
    return invoke.exec_plugin([invoke.find_in_path(kind, cmd.path)], json.dumps(conf).encode(), env, name=kind)


def add(conf: dict, cmd: CmdArgs) -> dict:
    """IPAM ADD; the answer as the 1.x model (0.1/0.2 `ip4` answers included)."""
    answer = invoke.decode_result(conf["ipam"]["type"], _exec(conf, cmd, "ADD"))
    return cniresult.to_current(answer, cniresult.version_of(answer, ver.of_config(conf)))


def delete(conf: dict, cmd: CmdArgs) -> None:
    _exec(conf, cmd, "DEL")


def has_ipam(conf: dict) -> bool:
    return isinstance(conf.get("ipam"), dict) and bool(conf["ipam"].get("type"))
