"""The `k8s.v1.cni.cncf.io/network-status` entries built from delegate results (multus-behaviour.md §12).

Results of every CNI version are read through the 1.x model. One deliberate change: a result
that names no interface (a 0.1/0.2 result, or a plugin that only reports addresses) still gets
an entry, under the interface name Multus gave the delegate; upstream drops it, so the pod's
status hides a network it has.
"""

from __future__ import annotations

from multus.cni import result as cniresult

DEFAULT_DESTINATIONS = ("0.0.0.0/0", "::/0", "::0/0")


def _address(cidr: str) -> str:
    return cidr.split("/", 1)[0]


def _gateways(model: dict) -> list[str]:
    gateways = []
    for route in model.get("routes", []):
        if route.get("dst") in DEFAULT_DESTINATIONS:
            gateway = route.get("gw") or next(
                (ip.get("gateway") for ip in model.get("ips", [])
                 if ip.get("gateway") and (":" in ip["address"]) == (":" in route["dst"])), None)
            if gateway and gateway not in gateways:
                gateways.append(gateway)
    return gateways


def entries(name: str, ifname: str, result: dict | None, cni_version: str, is_default: bool,
            device_info: dict | None = None) -> list[dict]:
    """One entry per pod-side interface of a delegate's result."""
    if not result:
        return []
    model = cniresult.to_current(result, cniresult.version_of(result, cni_version))
    interfaces = model.get("interfaces", [])
    ips = model.get("ips", [])
    sandboxed = [(i, iface) for i, iface in enumerate(interfaces) if iface.get("sandbox")]
    if len(interfaces) == 1:
        sandboxed = [(0, interfaces[0])]
    if not sandboxed:
        sandboxed = [(-1, {"name": ifname})]
    out = []
    for position, (index, iface) in enumerate(sandboxed):
        last = position == len(sandboxed) - 1
        mine = [ip for ip in ips if ip.get("interface") == index or len(sandboxed) == 1
                or (last and ip.get("interface") is None)]
        entry: dict = {"name": name, "interface": iface.get("name") or ifname,
                       "ips": [_address(ip["address"]) for ip in mine]}
        if iface.get("mac"):
            entry["mac"] = iface["mac"]
        if iface.get("mtu"):
            entry["mtu"] = iface["mtu"]
        entry["default"] = False
        entry["dns"] = model.get("dns") or {}
        if device_info:
            entry["device-info"] = device_info
        gateways = _gateways(model)
        if gateways:
            entry["gateway"] = gateways
        out.append(entry)
    if is_default:
        with_gateway = next((e for e in out if any(ip.get("gateway") for ip in ips
                                                   if _address(ip["address"]) in e["ips"])), out[0])
        with_gateway["default"] = True
    return out


def event_message(ifname: str, result: dict | None, cni_version: str, name: str) -> str:
    """The `AddedInterface` event text, as upstream words it."""
    model = cniresult.to_current(result or {}, cniresult.version_of(result or {}, cni_version))
    return f"Add {ifname} [{', '.join(ip['address'] for ip in model.get('ips', []))}] from {name}"
