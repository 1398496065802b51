"""The flannel delegate: turn flanneld's subnet.env into a bridge config and run it.

Follows flannel CNI (sriov-flannel.md §2): defaults only where the nested `delegate` is
silent, ipam ranges and routes from subnet.env, the rendered config saved before it runs so
DEL works without flanneld. Deviation: the saved file is keyed by container ID *and* ifname,
so two flannel attachments in one container cannot clash.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os

from multus import jsonlite
from multus.cni import invoke
from multus.cni.errors import INVALID_CONFIG, IO_FAILURE, TRY_AGAIN_LATER, CniError
from multus.fileutil import makedirs_private, write_atomic

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from multus.cni.env import CmdArgs

DEFAULT_SUBNET_FILE = "/run/flannel/subnet.env"
DEFAULT_DATA_DIR = "/var/lib/cni/flannel"
_LIST_KEYS = ("FLANNEL_NETWORK", "FLANNEL_IPV6_NETWORK")
_SUBNET_KEYS = ("FLANNEL_SUBNET", "FLANNEL_IPV6_SUBNET")


class SubnetEnv:
    __slots__ = ("networks", "subnets", "mtu", "ipmasq")

    def __init__(self, networks: list[str], subnets: list[str], mtu: int, ipmasq: bool) -> None:
        self.networks = networks
        self.subnets = subnets
        self.mtu = mtu
        self.ipmasq = ipmasq


def _cidr(path: str, key: str, value: str, strict: bool) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=strict))
    except ValueError:
        raise CniError(INVALID_CONFIG, f"{path}: {key} {value!r} is not a CIDR") from None


def parse_subnet_env(text: str, path: str = DEFAULT_SUBNET_FILE) -> SubnetEnv:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        key = key.strip()
        if key.startswith("FLANNEL_"):
            if not sep:
                raise CniError(INVALID_CONFIG, f"{path}: {key} has no value")
            values[key] = value.strip()
    missing = []
    if not any(k in values for k in _LIST_KEYS):
        missing.append("FLANNEL_NETWORK")
    if not any(k in values for k in _SUBNET_KEYS):
        missing.append("FLANNEL_SUBNET")
    missing += [k for k in ("FLANNEL_MTU", "FLANNEL_IPMASQ") if k not in values]
    if missing:
        raise CniError(INVALID_CONFIG, f"{path} is missing {', '.join(missing)}")
    networks: list[str] = []
    for key in _LIST_KEYS:
        for item in filter(None, values.get(key, "").split(",")):
            cidr = _cidr(path, key, item, strict=False)
            if cidr not in networks:
                networks.append(cidr)
    subnets = [_cidr(path, key, values[key], strict=False) for key in _SUBNET_KEYS if values.get(key)]
    if not values["FLANNEL_MTU"].isdigit():
        raise CniError(INVALID_CONFIG, f"{path}: FLANNEL_MTU {values['FLANNEL_MTU']!r} is not a number")
    return SubnetEnv(networks, subnets, int(values["FLANNEL_MTU"]), values["FLANNEL_IPMASQ"] == "true")


def build_delegate(conf: dict, env: SubnetEnv) -> dict:
    """The bridge (or other) config flannel delegates to."""
    delegate = conf.get("delegate", {})
    if not isinstance(delegate, dict):
        raise CniError(INVALID_CONFIG, "flannel: 'delegate' must be an object")
    if "type" in delegate and not isinstance(delegate["type"], str):
        raise CniError(INVALID_CONFIG, "flannel: 'delegate.type' must be a string")
    for key in ("name", "ipam"):
        if key in delegate:
            raise CniError(INVALID_CONFIG, f"flannel: 'delegate' must not set {key!r}: flannel sets it")
    out = dict(delegate)
    out["name"] = conf.get("name") or "flannel"
    out.setdefault("type", "bridge")
    out.setdefault("ipMasq", not env.ipmasq)
    out.setdefault("mtu", env.mtu)
    if out["type"] == "bridge":
        out.setdefault("isGateway", True)
    if conf.get("cniVersion"):
        out["cniVersion"] = conf["cniVersion"]
    ipam = dict(conf.get("ipam") or {})
    ipam.setdefault("type", "host-local")
    ipam["ranges"] = [[{"subnet": s}] for s in env.subnets]
    ipam["routes"] = list(ipam.get("routes", [])) + [{"dst": n} for n in env.networks]
    out["ipam"] = ipam
    if isinstance(conf.get("runtimeConfig"), dict):
        out["runtimeConfig"] = conf["runtimeConfig"]
    return out


def _saved_path(conf: dict, cmd: CmdArgs) -> str:
    data_dir = conf.get("dataDir", DEFAULT_DATA_DIR)
    if not isinstance(data_dir, str) or not data_dir.startswith("/"):
        raise CniError(INVALID_CONFIG, "flannel: 'dataDir' must be an absolute path")
    return os.path.join(data_dir, f"{cmd.container_id}-{cmd.ifname}")


def cmd_add(cmd: CmdArgs, conf: dict) -> dict:
    path = conf.get("subnetFile", DEFAULT_SUBNET_FILE)
    try:
        with open(path) as f:
            env = parse_subnet_env(f.read(), path)
    except FileNotFoundError:
        raise CniError(TRY_AGAIN_LATER, f"{path} does not exist: is flanneld running?") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CniError(IO_FAILURE, f"cannot read {path}: {exc}") from None
    delegate = build_delegate(conf, env)
    saved = _saved_path(conf, cmd)
    makedirs_private(os.path.dirname(saved))
    write_atomic(saved, jsonlite.dumps(delegate).encode())
    kind = delegate["type"]
    return invoke.decode_result(kind, invoke.delegate(kind, delegate, cmd, "ADD"))


def _load_saved(conf: dict, cmd: CmdArgs) -> tuple[str, dict | None]:
    saved = _saved_path(conf, cmd)
    try:
        with open(saved, "rb") as f:
            return saved, jsonlite.loads(f.read())
    except FileNotFoundError:
        return saved, None
    except ValueError as exc:
        raise CniError(IO_FAILURE, f"flannel: saved delegate {saved} is corrupt: {exc}") from None


def cmd_del(cmd: CmdArgs, conf: dict) -> None:
    saved, delegate = _load_saved(conf, cmd)
    if delegate is None:
        return
    prev = conf.get("prevResult")
    invoke.delegate(delegate["type"], delegate if prev is None else dict(delegate, prevResult=prev), cmd, "DEL")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(saved)


def cmd_check(cmd: CmdArgs, conf: dict) -> None:
    """Only that the attachment is known: the bridge plugin's own CHECK (Debian 1.1.1) rejects the
    via-gateway routes host-local installs for FLANNEL_NETWORK, which is why flannel's is a no-op."""
    saved, delegate = _load_saved(conf, cmd)
    if delegate is None:
        raise CniError(INVALID_CONFIG, f"flannel: no saved delegate {saved} for this attachment")


def handlers() -> dict:
    return {"ADD": cmd_add, "DEL": cmd_del, "CHECK": cmd_check, "STATUS": lambda c, f: None, "GC": lambda c, f: None}
