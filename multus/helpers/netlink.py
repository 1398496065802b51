"""Netlink for the helpers: the only module that imports pyroute2 (~300 ms, so only when needed).

Names are looked up per call; namespaced work uses pyroute2's `IPRoute(netns=path)`, which
opens the socket inside the namespace without moving this process.
"""

from __future__ import annotations

import contextlib
import os

from multus.cni.errors import INTERNAL, CniError

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from collections.abc import Iterator

EEXIST = 17


@contextlib.contextmanager
def _socket(netns: str = "") -> Iterator:
    from pyroute2 import IPRoute

    ipr = IPRoute(netns=netns) if netns else IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


@contextlib.contextmanager
def _reported(action: str) -> Iterator[None]:
    """Any pyroute2 or OS failure inside becomes one CniError saying what was being done."""
    try:
        yield
    except CniError:
        raise
    except Exception as exc:
        raise CniError(INTERNAL, f"netlink: {action}: {exc}") from None


def _index(ipr, ifname: str) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        raise CniError(INTERNAL, f"netlink: link {ifname!r} not found")
    return int(found[0])


def link_info(ifname: str, netns: str = "") -> dict | None:
    """{'mac', 'mtu'} of a link, or None when it does not exist there."""
    with _reported(f"looking up {ifname}" + (f" in {netns}" if netns else "")), _socket(netns) as ipr:
        found = ipr.link_lookup(ifname=ifname)
        if not found:
            return None
        link = ipr.get_links(found[0])[0]
        return {"mac": link.get("address"), "mtu": link.get("mtu")}


def move_into(host_ifname: str, netns: str, pod_ifname: str, mac: str | None = None) -> None:
    """Host link → pod namespace, renamed, optionally re-addressed, and up."""
    with _reported(f"moving {host_ifname} into {netns} as {pod_ifname}"):
        with _socket() as ipr:
            index = _index(ipr, host_ifname)
            ipr.link("set", index=index, state="down")
            fd = os.open(netns, os.O_RDONLY)
            try:
                ipr.link("set", index=index, net_ns_fd=fd)
            finally:
                os.close(fd)
        with _socket(netns) as ipr:
            index = _index(ipr, host_ifname)
            ipr.link("set", index=index, ifname=pod_ifname)
            if mac:
                ipr.link("set", index=index, address=mac)
            ipr.link("set", index=index, state="up")


def move_back(netns: str, pod_ifname: str, host_ifname: str, mac: str | None, mtu: int | None) -> None:
    """Pod link → this process's namespace under its original name, MAC and MTU."""
    host = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        with _reported(f"moving {pod_ifname} out of {netns}"), _socket(netns) as ipr:
            index = _index(ipr, pod_ifname)
            ipr.link("set", index=index, state="down")
            ipr.link("set", index=index, ifname=host_ifname)
            if mac:
                ipr.link("set", index=index, address=mac)
            if mtu:
                ipr.link("set", index=index, mtu=mtu)
            ipr.link("set", index=index, net_ns_fd=host)
    finally:
        os.close(host)


def configure(netns: str, ifname: str, ips: list[dict], routes: list[dict]) -> None:
    """Addresses, then routes; a route that already exists is not an error (first one wins)."""
    from pyroute2 import NetlinkError

    with _reported(f"configuring {ifname} in {netns}"):
        with _socket(netns) as ipr:
            index = _index(ipr, ifname)
            ipr.link("set", index=index, state="up")
            for ip in ips:
                address, _, prefix = ip["address"].partition("/")
                ipr.addr("add", index=index, address=address, prefixlen=int(prefix))
            for route in routes:
                gateway = route.get("gw") or _gateway_for(route["dst"], ips)
                spec = {"dst": route["dst"], "oif": index}
                if gateway:
                    spec["gateway"] = gateway
                try:
                    ipr.route("add", **spec)
                except NetlinkError as exc:
                    if exc.code != EEXIST:
                        raise


def _gateway_for(dst: str, ips: list[dict]) -> str | None:
    family_v6 = ":" in dst
    return next((ip.get("gateway") for ip in ips if (":" in ip["address"]) == family_v6 and ip.get("gateway")), None)


def get_vf(pf: str, vf: int) -> dict:
    """The PF's view of one VF (IFLA_VFINFO_LIST): MAC, VLAN, QoS, spoofchk, trust, link state, rates."""
    with _socket() as ipr:
        link = ipr.get_links(_index(ipr, pf), ext_mask=1)[0]
    vfinfo = link.get("IFLA_VFINFO_LIST")
    for info in vfinfo.get_attrs("IFLA_VF_INFO") if vfinfo else []:
        mac = info.get("IFLA_VF_MAC")
        if mac is None or mac.get("vf") != vf:
            continue
        vlan = info.get("IFLA_VF_VLAN") or {}
        rate = info.get("IFLA_VF_RATE") or {}
        return {"mac": mac.get("mac"), "vlan": vlan.get("vlan", 0), "qos": vlan.get("qos", 0),
                "proto": "802.1q", "spoofchk": (info.get("IFLA_VF_SPOOFCHK") or {}).get("setting", 0),
                "trust": (info.get("IFLA_VF_TRUST") or {}).get("setting", 0),
                "link_state": (info.get("IFLA_VF_LINK_STATE") or {}).get("link_state", 0),
                "min_tx_rate": rate.get("min_tx_rate", 0), "max_tx_rate": rate.get("max_tx_rate", 0)}
    raise CniError(INTERNAL, f"netlink: PF {pf} reports no VF {vf}")


def set_vf(pf: str, vf: int, settings: dict) -> None:
    """Apply VF settings through the PF, in the order the modern SR-IOV plugin uses."""
    with _reported(f"setting VF {vf} of {pf}"):
        with _socket() as ipr:
            index = _index(ipr, pf)
            if "vlan" in settings:
                proto = 0x88A8 if settings.get("proto") == "802.1ad" else 0x8100
                ipr.link("set", index=index, vf={"vf": vf, "vlan": [
                    {"vlan": settings["vlan"], "qos": settings.get("qos", 0), "proto": proto}]})
            if "mac" in settings:
                ipr.link("set", index=index, vf={"vf": vf, "mac": settings["mac"]})
            if "min_tx_rate" in settings or "max_tx_rate" in settings:
                ipr.link("set", index=index, vf={"vf": vf, "rate": {
                    "min_tx_rate": settings.get("min_tx_rate", 0), "max_tx_rate": settings.get("max_tx_rate", 0)}})
            for key in ("spoofchk", "trust", "link_state"):
                if key in settings:
                    ipr.link("set", index=index, vf={"vf": vf, key: settings[key]})
