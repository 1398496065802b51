"""A fake SR-IOV sysfs tree (sriov-flannel.md §4.4): real layout, relative links like the kernel's.

The VF "netdevs" it names are real veth ends the tests create; only the tree and the PF-side
VF table (the fake backend) are fake.
"""

from __future__ import annotations

import os
from pathlib import Path


def pci(bus: int, slot: int, fn: int = 0) -> str:
    return f"0000:{bus:02x}:{slot:02x}.{fn}"


def make_tree(root: Path, pfs: dict[str, list[str]], numvfs: dict[str, int] | None = None) -> dict[str, str]:
    """Build <root> for PFs → VF netdev names; returns VF netdev name → PCI address."""
    devices = root / "devices" / "pci0000:00" / "0000:00:02.0"
    (root / "class" / "net").mkdir(parents=True, exist_ok=True)
    (root / "bus" / "pci" / "devices").mkdir(parents=True, exist_ok=True)
    (root / "bus" / "pci" / "drivers" / "ixgbevf").mkdir(parents=True, exist_ok=True)
    addresses: dict[str, str] = {}
    for bus, (pf, vfs) in enumerate(pfs.items(), start=3):
        pf_pci = pci(bus, 0)
        pf_dir = devices / pf_pci
        (pf_dir / "net" / pf).mkdir(parents=True)
        (pf_dir / "sriov_totalvfs").write_text("8\n")
        (pf_dir / "sriov_numvfs").write_text(f"{(numvfs or {}).get(pf, len(vfs))}\n")
        os.symlink(os.path.relpath(pf_dir / "net" / pf, root / "class" / "net"), root / "class" / "net" / pf)
        os.symlink("../..", pf_dir / "net" / pf / "device")
        os.symlink(os.path.relpath(pf_dir, root / "bus" / "pci" / "devices"), root / "bus" / "pci" / "devices" / pf_pci)
        for index, netdev in enumerate(vfs):
            vf_pci = pci(bus, 0x10, index)
            vf_dir = devices / vf_pci
            (vf_dir / "net" / netdev).mkdir(parents=True)
            os.symlink(f"../{pf_pci}", vf_dir / "physfn")
            os.symlink(os.path.relpath(root / "bus" / "pci" / "drivers" / "ixgbevf", vf_dir), vf_dir / "driver")
            os.symlink(f"../{vf_pci}", pf_dir / f"virtfn{index}")
            os.symlink(os.path.relpath(vf_dir, root / "bus" / "pci" / "devices"),
                       root / "bus" / "pci" / "devices" / vf_pci)
            addresses[netdev] = vf_pci
    return addresses
