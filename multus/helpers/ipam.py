"""Running a delegate's IPAM plugin and reading its answer in any result version."""

from __future__ import annotations

from multus.cni import invoke
from multus.cni import result as cniresult
from multus.cni import version as ver

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from multus.cni.env import CmdArgs


def add(conf: dict, cmd: CmdArgs) -> dict:
    """IPAM ADD; the answer as the 1.x model (0.1/0.2 `ip4` answers included)."""
    kind = conf["ipam"]["type"]
    answer = invoke.decode_result(kind, invoke.delegate(kind, conf, cmd, "ADD"))
    return cniresult.to_current(answer, cniresult.version_of(answer, ver.of_config(conf)))


def delete(conf: dict, cmd: CmdArgs) -> None:
    invoke.delegate(conf["ipam"]["type"], conf, cmd, "DEL")


def has_ipam(conf: dict) -> bool:
    return isinstance(conf.get("ipam"), dict) and bool(conf["ipam"].get("type"))
