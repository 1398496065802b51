"""Setting VF options through the PF: the one piece that needs SR-IOV hardware.

`NetlinkBackend` is the real thing (pyroute2, IFLA_VF_*). `FakeBackend` keeps a per-PF VF
table in a JSON file and logs every call beside it, so a test can check what a separate
multus process did; it is chosen with MULTUS_SRIOV_PF_BACKEND=fake:<file>.
"""

from __future__ import annotations

import hashlib
import json
import os

from multus.fileutil import locked, write_atomic

BACKEND_ENV = "MULTUS_SRIOV_PF_BACKEND"
KEYS = ("vlan", "qos", "proto", "mac", "min_tx_rate", "max_tx_rate", "spoofchk", "trust", "link_state")


class NetlinkBackend:
    def get_vf(self, pf: str, index: int) -> dict:
        from multus.helpers import netlink

        return netlink.get_vf(pf, index)

    def set_vf(self, pf: str, index: int, settings: dict) -> None:
        from multus.helpers import netlink

        netlink.set_vf(pf, index, settings)


class FakeBackend:
    """A PF whose VF table lives in a file: seeded with distinct MACs, every change logged."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.calls = f"{path}.calls"

    @staticmethod
    def _initial(pf: str, index: int) -> dict:
        digest = hashlib.sha256(f"{pf}/{index}".encode()).digest()
        mac = "02:" + ":".join(f"{b:02x}" for b in digest[:5])
        return {"mac": mac, "vlan": 0, "qos": 0, "proto": "802.1q", "min_tx_rate": 0, "max_tx_rate": 0,
                "spoofchk": 1, "trust": 0, "link_state": 0}

    def _table(self) -> dict:
        try:
            with open(self.path) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def get_vf(self, pf: str, index: int) -> dict:
        with locked(f"{self.path}.lock"):
            return dict(self._table().get(pf, {}).get(str(index)) or self._initial(pf, index))

    def set_vf(self, pf: str, index: int, settings: dict) -> None:
        with locked(f"{self.path}.lock"):
            table = self._table()
            vf = table.setdefault(pf, {}).setdefault(str(index), self._initial(pf, index))
            vf.update({k: settings[k] for k in KEYS if k in settings})
            write_atomic(self.path, json.dumps(table, sort_keys=True).encode())
            with open(self.calls, "a") as log:
                log.write(f"set_vf {pf} {index} " + " ".join(f"{k}={settings[k]}" for k in KEYS if k in settings) + "\n")


def backend_for(environ: dict[str, str]) -> NetlinkBackend | FakeBackend:
    choice = environ.get(BACKEND_ENV, "")
    if choice.startswith("fake:") and os.path.isabs(choice[5:]):
        return FakeBackend(choice[5:])
    return NetlinkBackend()
