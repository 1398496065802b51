"""Which VF an attachment holds, kept on disk so DEL works after a restart.

`<cniDir>/pci/<pci>` holds the netns path of the pod that owns the VF (stale once that
namespace is gone); `<cniDir>/<containerID>-<ifname>.json` holds the attachment's original VF
state; `<cniDir>/locks/<pf>` serializes VF selection on one PF, so two concurrent ADDs never
take the same VF.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket

from multus.cni.errors import INTERNAL, IO_FAILURE, CniError
from multus.fileutil import locked, makedirs_private, write_atomic
from multus.helpers.sriov.config import SriovConf
from multus.helpers.sriov.sysfs import Vf, vf_by_pci, vfs_of


def in_this_netns(ifname: str) -> bool:
    try:
        socket.if_nametoindex(ifname)
        return True
    except OSError:
        return False


# What DEL needs from a saved entry to put the VF back.
ENTRY_KEYS = ("pf", "vf", "pci", "hostIfname", "podIfname", "netns", "conf")


class SriovStore:
    __slots__ = ("root",)

    def __init__(self, root: str) -> None:
        self.root = root

    def _alloc_path(self, pci: str) -> str:
        return os.path.join(self.root, "pci", pci)

    def owner(self, pci: str) -> str | None:
        """The netns holding the VF, or None when free (no file, or its namespace is gone)."""
        try:
            with open(self._alloc_path(pci)) as f:
                netns = f.read().strip()
        except FileNotFoundError:
            return None
        return netns if netns and os.path.exists(netns) else None

    def allocate(self, conf: SriovConf, sysfs_root: str, netns: str) -> Vf:
        if conf.dialect == "deviceID":
            candidates = [vf_by_pci(sysfs_root, conf.device_id)]
            pf = candidates[0].pf
        else:
            pf = conf.pf
            candidates = vfs_of(sysfs_root, pf)
        with locked(os.path.join(self.root, "locks", pf)):
            for vf in candidates:
                owner = self.owner(vf.pci)
                usable = owner is None and len(vf.netdevs) == 1 and in_this_netns(vf.netdevs[0])
                if usable:
                    makedirs_private(os.path.dirname(self._alloc_path(vf.pci)))
                    write_atomic(self._alloc_path(vf.pci), netns.encode())
                    return vf
                if conf.dialect == "deviceID":
                    why = f"already allocated to {owner}" if owner else "has no kernel netdev in this namespace"
                    raise CniError(INTERNAL, f"sriov: VF {vf.pci} {why}")
        raise CniError(INTERNAL, f"sriov: no free VF on PF {pf}")

    def release(self, pci: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._alloc_path(pci))

    def _entry_path(self, container_id: str, ifname: str) -> str:
        return os.path.join(self.root, f"{container_id}-{ifname}.json")

    def save(self, container_id: str, ifname: str, entry: dict) -> None:
        makedirs_private(self.root)
        write_atomic(self._entry_path(container_id, ifname), json.dumps(entry).encode())

    def load(self, container_id: str, ifname: str) -> dict | None:
        """The attachment's saved VF, None when there is none; a file that exists but cannot be
        used is an error: treating it as "nothing attached" would leave the VF in the pod."""
        path = self._entry_path(container_id, ifname)
        try:
            with open(path) as f:
                entry = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise CniError(IO_FAILURE, f"sriov: saved VF state {path} is unreadable: {exc}") from None
        missing = [k for k in ENTRY_KEYS if not isinstance(entry, dict) or k not in entry]
        if missing:
            raise CniError(IO_FAILURE, f"sriov: saved VF state {path} is corrupt: missing {', '.join(missing)}")
        return entry

    def remove(self, container_id: str, ifname: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._entry_path(container_id, ifname))
