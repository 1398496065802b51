"""Moving a pod's default route to the network that asked for it (`default-route`, multus-behaviour.md §10).

After a delegate's ADD: its interface loses its default routes of every family some network
asked a gateway for, and the asking network gets `default via <gateway>`; the delegate's
stored result is edited to match, so network-status and a later CHECK tell the truth.
Netlink goes through cni.rtnetlink inside the pod's namespace: no pyroute2 (~300 ms).
"""

from __future__ import annotations

from multus.cni import result as cniresult
from multus.cni.errors import INTERNAL, CniError

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from multus.core.delegate import Delegate

DEFAULT = {"4": "0.0.0.0/0", "6": "::/0"}
AF = {"4": 2, "6": 10}


def applies(delegate: Delegate) -> bool:
    result = delegate.result or {}
    return bool(delegate.filter_families) and any(result.get(k) for k in ("interfaces", "ips", "ip4", "ip6"))


def apply(delegate: Delegate, netns: str) -> None:
    from multus.cni import netns as nsutil
    from multus.cni import rtnetlink

    gateways = delegate.gateways or []
    try:
        nsutil.run_inside(netns, lambda: rtnetlink.move_default(
            delegate.ifname, [AF[f] for f in delegate.filter_families], gateways))
    except OSError as exc:
        raise CniError(INTERNAL, f"default-route: cannot change the default route of {delegate.ifname} in {netns}: "
                                 f"{exc.strerror or exc}") from None
    assert delegate.result is not None
    delegate.result = edited_result(delegate.result, delegate.filter_families, gateways, delegate.network.cni_version)


def _is_default(route: dict, families: list[str]) -> bool:
    dst = route.get("dst", "")
    family = "6" if ":" in dst else "4"
    return family in families and dst.split("/")[-1] == "0"


def edited_result(result: dict, families: list[str], gateways: list[str], cni_version: str) -> dict:
    """The result with the families' default routes removed and the requested gateways added."""
    version = cniresult.version_of(result, cni_version)
    out = dict(result)
    if version in ("0.1.0", "0.2.0"):
        for family, key in (("4", "ip4"), ("6", "ip6")):
            block = out.get(key)
            if not isinstance(block, dict) or family not in families:
                continue
            block = dict(block)
            routes = [r for r in block.get("routes", []) if not _is_default(r, families)]
            routes += [{"dst": DEFAULT[family], "gw": g} for g in gateways if ("6" if ":" in g else "4") == family]
            if routes:
                block["routes"] = routes
            else:
                block.pop("routes", None)
            out[key] = block
        return out
    routes = [r for r in out.get("routes", []) if not _is_default(r, families)]
    routes += [{"dst": DEFAULT["6" if ":" in g else "4"], "gw": g} for g in gateways]
    if routes:
        out["routes"] = routes
    else:
        out.pop("routes", None)
    return out
