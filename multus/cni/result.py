"""Results in every spec version, converted through the 1.x shape as the hub.

Three families: 0.1/0.2 (`ip4`/`ip6` objects), 0.3/0.4 (`interfaces`, `ips` with a `version`
key) and 1.x (`ips` without `version`). Upstream thin Multus prints the master's result in
whatever version the delegate used (quirk Q8); we convert it to the config's version.
"""

from __future__ import annotations

from multus.cni import version as ver
from multus.cni.errors import DECODE, CniError

_LEGACY = ("0.1.0", "0.2.0")
_V04 = ("0.3.0", "0.3.1", "0.4.0")


def _family(address: str) -> str:
    return "6" if ":" in address else "4"


def _bad(msg: str) -> CniError:
    return CniError(DECODE, f"malformed CNI result: {msg}")


def _list_of_dicts(result: dict, key: str) -> list:
    value = result.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _bad(f"{key!r} must be a list of objects")
    return value


def to_current(result: dict, version: str) -> dict:
    """Any supported version's result → the 1.x model (no cniVersion key)."""
    if not isinstance(result, dict):
        raise _bad("not a JSON object")
    ver.parse(version)
    model: dict = {}
    if version in _LEGACY:
        ips: list[dict] = []
        routes: list[dict] = []
        for key in ("ip4", "ip6"):
            block = result.get(key)
            if block is None:
                continue
            if not isinstance(block, dict) or not isinstance(block.get("ip"), str):
                raise _bad(f"{key!r} must be an object with an 'ip' string")
            ip = {"address": block["ip"]}
            if block.get("gateway"):
                ip["gateway"] = block["gateway"]
            ips.append(ip)
            routes.extend(dict(r) for r in _list_of_dicts(block, "routes"))
        if ips:
            model["ips"] = ips
        if routes:
            model["routes"] = routes
    else:
        if "interfaces" in result:
            model["interfaces"] = [dict(i) for i in _list_of_dicts(result, "interfaces")]
        if "ips" in result:
            ips = []
            for ip in _list_of_dicts(result, "ips"):
                if not isinstance(ip.get("address"), str):
                    raise _bad("every entry of 'ips' needs an 'address' string")
                ips.append({k: v for k, v in ip.items() if k != "version"})
            model["ips"] = ips
        if "routes" in result:
            model["routes"] = [dict(r) for r in _list_of_dicts(result, "routes")]
    if "dns" in result:
        if not isinstance(result["dns"], dict):
            raise _bad("'dns' must be an object")
        model["dns"] = dict(result["dns"])
    return model


def from_current(model: dict, version: str) -> dict:
    """The 1.x model → a result in `version`, key order as the Go types print it."""
    out: dict = {"cniVersion": version}
    if version in _LEGACY:
        for fam, key in (("4", "ip4"), ("6", "ip6")):
            ip = next((i for i in model.get("ips", []) if _family(i["address"]) == fam), None)
            if ip is None:
                continue
            block: dict = {"ip": ip["address"]}
            if ip.get("gateway"):
                block["gateway"] = ip["gateway"]
            routes = [{k: v for k, v in r.items() if k in ("dst", "gw")}
                      for r in model.get("routes", []) if _family(r.get("dst", "")) == fam]
            if routes:
                block["routes"] = routes
            out[key] = block
    else:
        for key in ("interfaces", "ips", "routes"):
            if key not in model:
                continue
            items = [dict(i) for i in model[key]]
            if key == "ips" and version in _V04:
                items = [{"version": _family(i["address"]), **i} for i in items]
            out[key] = items
    if "dns" in model:
        out["dns"] = dict(model["dns"])
    return out


def convert(result: dict, from_version: str, to_version: str) -> dict:
    return from_current(to_current(result, from_version), to_version)


def version_of(result: dict, default: str) -> str:
    """A result without cniVersion is in the version of the config that produced it."""
    v = result.get("cniVersion") if isinstance(result, dict) else None
    return v if isinstance(v, str) and v else default
