"""SR-IOV delegate config, both dialects (sriov-flannel.md §1.2 and §1.3).

2017 "if0" dialect: the PF is named and a free VF is picked. Modern dialect: the VF's PCI
address (`deviceID`) is given, usually by a device plugin through `runtimeConfig`.
"""

from __future__ import annotations

import re

from multus.cni.env import check_ifname
from multus.cni.errors import INVALID_CONFIG, CniError

DEFAULT_STATE_DIR = "/var/lib/cni/sriov"
PCI_ADDRESS = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")
MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
LINK_STATES = {"auto": 0, "enable": 1, "disable": 2}
RESERVED_POD_NAMES = ("eth0", "eth1", "lo")


def _fail(msg: str) -> CniError:
    return CniError(INVALID_CONFIG, f"sriov: {msg}")


def _int(conf: dict, key: str, low: int, high: int) -> int | None:
    if key not in conf:
        return None
    value = conf[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(f"{key!r} must be an integer from {low} to {high}")
    return value


def _on_off(conf: dict, key: str) -> int | None:
    if key not in conf:
        return None
    if conf[key] not in ("on", "off"):
        raise _fail(f"{key!r} must be \"on\" or \"off\"")
    return 1 if conf[key] == "on" else 0


class SriovConf:
    """What one SR-IOV attachment asks for; `settings` are the PF-side VF options to apply."""

    __slots__ = ("dialect", "pf", "device_id", "pod_ifname", "createmac", "mac", "settings", "l2only",
                 "state_dir", "raw")

    def __init__(self, raw: dict, runtime_ifname: str) -> None:
        self.raw = raw
        runtime: dict = raw["runtimeConfig"] if isinstance(raw.get("runtimeConfig"), dict) else {}
        device_id = runtime.get("deviceID") or runtime.get("pciBusID") or raw.get("deviceID")
        if "if0" in raw:
            self.dialect = "if0"
            if not isinstance(raw["if0"], str) or not raw["if0"]:
                raise _fail("'if0' must be the PF's interface name")
            self.pf = raw["if0"]
            self.device_id = ""
        elif device_id:
            self.dialect = "deviceID"
            if not isinstance(device_id, str) or not PCI_ADDRESS.match(device_id):
                raise _fail(f"'deviceID' must be a VF PCI address like 0000:03:02.3, got {device_id!r}")
            self.pf = ""
            self.device_id = device_id.lower()
        else:
            raise _fail("either 'if0' (the PF's name) or 'deviceID' (the VF's PCI address) is required")
        if raw.get("dpdk"):
            raise _fail("'dpdk' mode is not supported by the built-in helper")
        pod_ifname = raw.get("if0name") or runtime_ifname
        if not isinstance(pod_ifname, str) or (problem := check_ifname(pod_ifname)):
            raise _fail(f"'if0name': {problem or 'must be a string'}")
        if "if0name" in raw and pod_ifname in RESERVED_POD_NAMES:
            raise _fail(f"'if0name' must not be {pod_ifname!r}")
        self.pod_ifname = pod_ifname
        self.createmac = raw.get("createmac", False)
        if not isinstance(self.createmac, bool):
            raise _fail("'createmac' must be true or false")
        mac = runtime.get("mac") or raw.get("mac")
        if mac is not None and (not isinstance(mac, str) or not MAC.match(mac)):
            raise _fail(f"'mac' must look like 02:00:00:00:00:01, got {mac!r}")
        self.mac = mac.lower() if mac else None
        self.l2only = raw.get("l2enable", False)
        if not isinstance(self.l2only, bool):
            raise _fail("'l2enable' must be true or false")
        self.settings = self._settings(raw)
        state_dir = raw.get("cniDir", DEFAULT_STATE_DIR)
        if not isinstance(state_dir, str) or not state_dir.startswith("/"):
            raise _fail("'cniDir' must be an absolute path")
        self.state_dir = state_dir

    @staticmethod
    def _settings(raw: dict) -> dict:
        settings: dict = {}
        vlan = _int(raw, "vlan", 0, 4094)
        qos = _int(raw, "vlanQoS", 0, 7)
        proto = raw.get("vlanProto")
        if (qos is not None or proto is not None) and vlan is None:
            raise _fail("'vlanQoS' and 'vlanProto' need 'vlan'")
        if proto is not None and (not isinstance(proto, str) or proto.lower() not in ("802.1q", "802.1ad")):
            raise _fail("'vlanProto' must be \"802.1q\" or \"802.1ad\"")
        if vlan == 0 and ((qos or 0) != 0 or (proto or "").lower() == "802.1ad"):
            raise _fail("a non-zero 'vlanQoS' or 802.1ad needs a non-zero 'vlan'")
        if vlan is not None:
            settings.update(vlan=vlan, qos=qos or 0, proto=(proto or "802.1q").lower())
        for key in ("min_tx_rate", "max_tx_rate"):
            if (rate := _int(raw, key, 0, 1 << 31)) is not None:
                settings[key] = rate
        if "min_tx_rate" in settings or "max_tx_rate" in settings:
            settings.setdefault("min_tx_rate", 0)
            settings.setdefault("max_tx_rate", 0)
        for key in ("spoofchk", "trust"):
            if (flag := _on_off(raw, key)) is not None:
                settings[key] = flag
        if "link_state" in raw:
            if raw["link_state"] not in LINK_STATES:
                raise _fail(f"'link_state' must be one of {sorted(LINK_STATES)}")
            settings["link_state"] = LINK_STATES[raw["link_state"]]
        return settings
