"""A scratch "host" namespace with veth stand-ins for SR-IOV PFs and VFs, and a fake sysfs tree.

Multus runs inside the host namespace (`ip netns exec`), so bridges, moved-back VFs and
everything else it touches stay in namespaces the test made.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import BINARY, Outcome, cni_env, ip, tag
from tests.sriov_fake import make_tree


class SriovHost:
    def __init__(self, tmp: Path, pfs: dict[str, int]) -> None:
        self.tmp = tmp
        self.name = f"mt-h{tag()}"
        ip("netns", "add", self.name)
        ip("-n", self.name, "link", "set", "lo", "up")
        layout = {pf: [f"{pf}v{i}" for i in range(count)] for pf, count in pfs.items()}
        for pf, vfs in layout.items():
            for dev in [pf, *vfs]:
                ip("-n", self.name, "link", "add", dev, "type", "veth", "peer", "name", f"{dev}p")
                ip("-n", self.name, "link", "set", f"{dev}p", "up")
        self.sysfs = tmp / "sys"
        self.pci = make_tree(self.sysfs, layout)
        self.backend = tmp / "pf.json"
        self.state = tmp / "sriov"
        self.bin = tmp / "bin"
        self.bin.mkdir()
        for name in ("multus", "sriov", "flannel"):
            (self.bin / name).symlink_to(BINARY)

    def env(self, **extra: str) -> dict[str, str]:
        return {"MULTUS_SRIOV_SYSFS_ROOT": str(self.sysfs), "MULTUS_SRIOV_PF_BACKEND": f"fake:{self.backend}",
                **extra}

    def run(self, program: str, command: str, conf: dict, **env: str) -> Outcome:
        """Run build/multus (or its sriov/flannel name) inside the host namespace."""
        environ = cni_env(command, **self.env(**env))
        proc = subprocess.run(["ip", "netns", "exec", self.name, str(self.bin / program)],
                              input=json.dumps(conf).encode(), capture_output=True, env=environ, timeout=120)
        return Outcome(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    def popen(self, program: str, command: str, conf: dict, **env: str) -> subprocess.Popen:
        environ = cni_env(command, **self.env(**env))
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, str(self.bin / program)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ)
        proc.stdin.write(json.dumps(conf).encode())
        proc.stdin.close()
        return proc

    def links(self) -> dict[str, str]:
        """Host-namespace link name → MAC."""
        return {link["ifname"]: link.get("address", "") for link in json.loads(ip("-n", self.name, "-j", "link"))}

    def calls(self) -> list[str]:
        path = Path(f"{self.backend}.calls")
        return path.read_text().splitlines() if path.exists() else []

    def close(self) -> None:
        ip("netns", "del", self.name, check=False)


def pod_links(netns: str) -> dict[str, dict]:
    out = {}
    for link in json.loads(ip("-n", netns, "-j", "addr")):
        out[link["ifname"]] = {"mac": link.get("address"), "addrs": [
            f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if a.get("family") == "inet"]}
    return out


def netns_path(name: str) -> str:
    return os.path.join("/var/run/netns", name)
