"""SR-IOV ADD/DEL/CHECK: take a VF, configure it through its PF, move it into the pod.

The original VF state (host name, MACs, MTU, PF-side options) is saved before anything
changes, so DEL, or the undo of a failed ADD, puts the VF back exactly as it was, also after
a restart. PF-side options go through a backend (real netlink, or a file-backed fake in
tests); everything else is real netlink on the VF netdev.
"""

from __future__ import annotations

import os

from multus.cni import result as cniresult
from multus.cni import version as ver
from multus.cni.errors import INTERNAL, INVALID_NETNS, CniError
from multus.helpers import ipam
from multus.helpers.sriov.alloc import SriovStore
from multus.helpers.sriov.config import SriovConf
from multus.helpers.sriov.vfctl import KEYS, backend_for

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from multus.cni.env import CmdArgs

SYSFS_ENV = "MULTUS_SRIOV_SYSFS_ROOT"


def random_mac() -> str:
    """Locally administered, unicast: bit 1 of the first byte set, bit 0 clear."""
    raw = bytearray(os.urandom(6))
    raw[0] = (raw[0] | 0x02) & 0xFE
    return ":".join(f"{b:02x}" for b in raw)


def _ipam_conf(raw: dict) -> dict:
    """host-local refuses a config without a name; standalone callers may not have set one."""
    return raw if raw.get("name") else dict(raw, name="sriov")


class Attachment:
    """One VF attachment: its saved entry, and how to undo each step that has happened."""

    def __init__(self, cmd: CmdArgs, raw: dict) -> None:
        self.cmd = cmd
        self.conf = SriovConf(raw, cmd.ifname)
        self.store = SriovStore(self.conf.state_dir)
        self.backend = backend_for(cmd.environ)
        self.sysfs = cmd.environ.get(SYSFS_ENV, "/sys")

    def add(self) -> dict:
        from multus.helpers import netlink

        cmd, conf = self.cmd, self.conf
        if self.store.load(cmd.container_id, cmd.ifname):
            raise CniError(INTERNAL, f"sriov: {cmd.container_id}/{cmd.ifname} already holds a VF: DEL it first")
        if not os.path.exists(cmd.netns):
            raise CniError(INVALID_NETNS, f"sriov: network namespace {cmd.netns} does not exist")
        if netlink.link_info(conf.pod_ifname, cmd.netns):
            raise CniError(INTERNAL, f"sriov: interface {conf.pod_ifname} already exists in {cmd.netns}")
        vf = self.store.allocate(conf, self.sysfs, cmd.netns)
        entry: dict = {"pf": vf.pf, "vf": vf.index, "pci": vf.pci, "hostIfname": vf.netdevs[0],
                       "podIfname": conf.pod_ifname, "netns": cmd.netns, "conf": conf.raw, "applied": [],
                       "moved": False, "ipam": False}
        try:
            host = netlink.link_info(vf.netdevs[0]) or {}
            entry["orig"] = dict(self.backend.get_vf(vf.pf, vf.index), effectiveMac=host.get("mac"),
                                 mtu=host.get("mtu"))
            self._save(entry)
            mac = conf.mac or (random_mac() if conf.createmac else None)
            settings = dict(conf.settings, **({"mac": mac} if mac else {}))
            if settings:
                entry["applied"] = [k for k in KEYS if k in settings]
                self._save(entry)
                self.backend.set_vf(vf.pf, vf.index, settings)
            netlink.move_into(vf.netdevs[0], cmd.netns, conf.pod_ifname, mac)
            entry["moved"] = True
            self._save(entry)
            model = {"interfaces": [{"name": conf.pod_ifname, "mac": mac or host.get("mac"), "sandbox": cmd.netns}]}
            if ipam.has_ipam(conf.raw) and not conf.l2only:
                entry["ipam"] = "pending"  # a kill during IPAM ADD must still release on DEL
                self._save(entry)
                answer = ipam.add(_ipam_conf(conf.raw), cmd)
                entry["ipam"] = "done"
                ips = [dict(ip, interface=0) for ip in answer.get("ips", [])]
                if not ips:
                    raise CniError(INTERNAL, f"sriov: IPAM {conf.raw['ipam']['type']} returned no address")
                netlink.configure(cmd.netns, conf.pod_ifname, ips, answer.get("routes", []))
                model.update(ips=ips, routes=answer.get("routes", []))
                dns = conf.raw.get("dns") or answer.get("dns")
                if dns:
                    model["dns"] = dns
        except Exception as exc:
            try:
                self._undo(entry)
            except CniError as undo:
                # The original failure stays the headline; the incomplete undo is added to it.
                original = exc if isinstance(exc, CniError) else CniError(INTERNAL, f"{type(exc).__name__}: {exc}")
                raise CniError(original.code, f"{original.msg}; undoing the ADD also failed: {undo.msg}",
                               original.details) from None
            raise
        return cniresult.from_current(model, ver.of_config(conf.raw))

    def _save(self, entry: dict) -> None:
        self.store.save(self.cmd.container_id, self.cmd.ifname, entry)

    def _undo(self, entry: dict) -> None:
        """Reverse every recorded step; each is attempted even if an earlier one fails."""
        from multus.helpers import netlink

        errors = []
        if entry.get("ipam"):
            try:
                ipam.delete(_ipam_conf(entry["conf"]), self.cmd)
            except CniError as exc:
                # An IPAM whose ADD failed holds nothing; its DEL may refuse the same bad config.
                if entry["ipam"] == "done":
                    errors.append(str(exc))
        orig = entry.get("orig") or {}
        if entry.get("applied") and orig:
            try:
                self.backend.set_vf(entry["pf"], entry["vf"], {k: orig[k] for k in entry["applied"] if k in orig})
            except Exception as exc:
                errors.append(str(exc))
        netns = entry.get("netns", "")
        if entry.get("moved") and netns and os.path.exists(netns):
            try:
                if netlink.link_info(entry["podIfname"], netns):
                    netlink.move_back(netns, entry["podIfname"], entry["hostIfname"], orig.get("effectiveMac"),
                                      orig.get("mtu"))
            except Exception as exc:
                errors.append(str(exc))
        if errors:
            raise CniError(INTERNAL, "sriov: could not fully restore the VF: " + "; ".join(errors))
        self.store.release(entry["pci"])
        self.store.remove(self.cmd.container_id, self.cmd.ifname)

    def delete(self) -> None:
        entry = self.store.load(self.cmd.container_id, self.cmd.ifname)
        if entry is None:
            # Nothing saved (never added, or already deleted): still release any address.
            if ipam.has_ipam(self.conf.raw) and not self.conf.l2only:
                ipam.delete(_ipam_conf(self.conf.raw), self.cmd)
            return
        if ipam.has_ipam(entry["conf"]) and not entry["conf"].get("l2enable"):
            entry["ipam"] = "done"
        self._undo(entry)

    def check(self) -> None:
        from multus.helpers import netlink

        entry = self.store.load(self.cmd.container_id, self.cmd.ifname)
        if entry is None:
            raise CniError(INTERNAL, f"sriov: no VF recorded for {self.cmd.container_id}/{self.cmd.ifname}")
        if not netlink.link_info(entry["podIfname"], self.cmd.netns):
            raise CniError(INTERNAL, f"sriov: {entry['podIfname']} is missing from {self.cmd.netns}")


def handlers() -> dict:
    return {
        "ADD": lambda cmd, raw: Attachment(cmd, raw).add(),
        "DEL": lambda cmd, raw: Attachment(cmd, raw).delete(),
        "CHECK": lambda cmd, raw: Attachment(cmd, raw).check(),
        "STATUS": lambda cmd, raw: None,
        "GC": lambda cmd, raw: None,
    }
