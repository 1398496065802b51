"""PF and VF discovery in a sysfs tree whose root is a parameter (a fake tree in tests).

Layout as the kernel's (sriov-flannel.md §1.4): `class/net/<pf>/device/{sriov_numvfs,virtfnN}`,
`bus/pci/devices/<vf>/{physfn,net/<ifname>,driver}`.
"""

from __future__ import annotations

import os

from multus.cni.errors import INVALID_CONFIG, CniError


class Vf:
    __slots__ = ("pf", "index", "pci", "netdevs")

    def __init__(self, pf: str, index: int, pci: str, netdevs: list[str]) -> None:
        self.pf = pf
        self.index = index
        self.pci = pci
        self.netdevs = netdevs


def _netdevs(device_dir: str) -> list[str]:
    try:
        return sorted(os.listdir(os.path.join(device_dir, "net")))
    except FileNotFoundError:
        return []


def vfs_of(root: str, pf: str) -> list[Vf]:
    device = os.path.join(root, "class", "net", pf, "device")
    try:
        with open(os.path.join(device, "sriov_numvfs")) as f:
            count = int(f.read().strip() or 0)
    except (OSError, ValueError):
        raise CniError(INVALID_CONFIG, f"sriov: {pf} is not an SR-IOV PF (no sriov_numvfs under {device})") from None
    if count <= 0:
        raise CniError(INVALID_CONFIG, f"sriov: PF {pf} has no VFs enabled (sriov_numvfs is {count})")
    vfs = []
    for index in range(count):
        link = os.path.join(device, f"virtfn{index}")
        if not os.path.islink(link):
            continue
        vfs.append(Vf(pf, index, os.path.basename(os.readlink(link)), _netdevs(link)))
    return vfs


def vf_by_pci(root: str, pci: str) -> Vf:
    device = os.path.join(root, "bus", "pci", "devices", pci)
    pfs = _netdevs(os.path.join(device, "physfn"))
    if not pfs:
        raise CniError(INVALID_CONFIG, f"sriov: {pci} is not a VF (no physfn/net under {device})")
    for vf in vfs_of(root, pfs[0]):
        if vf.pci == pci:
            return vf
    raise CniError(INVALID_CONFIG, f"sriov: PF {pfs[0]} has no enabled VF {pci}")
