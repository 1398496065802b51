import pytest

from multus.cni.errors import INVALID_CONFIG, CniError
from multus.helpers.sriov.config import SriovConf
from multus.helpers.sriov.plugin import random_mac
from multus.helpers.sriov.sysfs import vf_by_pci, vfs_of
from tests.sriov_fake import make_tree


def fails(raw, fragment):
    with pytest.raises(CniError) as info:
        SriovConf(raw, "net1")
    assert info.value.code == INVALID_CONFIG
    assert fragment in info.value.msg


def test_if0_dialect_seed_fields():
    conf = SriovConf({"type": "sriov", "if0": "enp12s0f0", "if0name": "north0", "createmac": True,
                      "ipam": {"type": "host-local"}}, "net1")
    assert (conf.dialect, conf.pf, conf.pod_ifname, conf.createmac) == ("if0", "enp12s0f0", "north0", True)
    assert conf.settings == {} and conf.state_dir == "/var/lib/cni/sriov"


def test_if0name_defaults_to_runtime_ifname():
    assert SriovConf({"if0": "pf"}, "net2").pod_ifname == "net2"


def test_modern_dialect_with_every_knob():
    conf = SriovConf({"deviceID": "0000:03:10.1", "vlan": 100, "vlanQoS": 3, "mac": "0A:00:00:00:00:01",
                      "spoofchk": "off", "trust": "on", "link_state": "disable", "max_tx_rate": 100}, "net1")
    assert conf.device_id == "0000:03:10.1" and conf.mac == "0a:00:00:00:00:01"
    assert conf.settings == {"vlan": 100, "qos": 3, "proto": "802.1q", "spoofchk": 0, "trust": 1,
                             "link_state": 2, "min_tx_rate": 0, "max_tx_rate": 100}


def test_runtime_config_device_id_and_mac_win():
    conf = SriovConf({"deviceID": "0000:03:10.1", "mac": "0a:00:00:00:00:01",
                      "runtimeConfig": {"pciBusID": "0000:03:10.2", "mac": "0a:00:00:00:00:02"}}, "net1")
    assert (conf.device_id, conf.mac) == ("0000:03:10.2", "0a:00:00:00:00:02")


@pytest.mark.parametrize("raw, fragment", [
    ({}, "either 'if0'"),
    ({"if0": ""}, "'if0' must be"),
    ({"deviceID": "03:10.1"}, "must be a VF PCI address"),
    ({"if0": "pf", "if0name": "eth0"}, "must not be 'eth0'"),
    ({"if0": "pf", "if0name": "much-too-long-name"}, "longer than 15"),
    ({"if0": "pf", "vlan": 5000}, "'vlan' must be an integer from 0 to 4094"),
    ({"if0": "pf", "vlanQoS": 1}, "need 'vlan'"),
    ({"if0": "pf", "vlan": 0, "vlanQoS": 2}, "non-zero 'vlan'"),
    ({"if0": "pf", "vlan": 1, "vlanProto": "802.1x"}, "'vlanProto'"),
    ({"if0": "pf", "spoofchk": True}, "'spoofchk' must be"),
    ({"if0": "pf", "link_state": "up"}, "'link_state' must be one of"),
    ({"if0": "pf", "mac": "zz"}, "'mac' must look like"),
    ({"if0": "pf", "createmac": "yes"}, "'createmac'"),
    ({"if0": "pf", "dpdk": {"kernel_driver": "ixgbevf"}}, "'dpdk' mode is not supported"),
    ({"if0": "pf", "cniDir": "relative"}, "'cniDir' must be an absolute path"),
])
def test_validation(raw, fragment):
    fails(raw, fragment)


def test_random_mac_is_local_unicast():
    for _ in range(50):
        first = int(random_mac().split(":")[0], 16)
        assert first & 0x02 and not first & 0x01


def test_vf_discovery_in_fake_tree(tmp_path):
    addresses = make_tree(tmp_path, {"enp12s0f0": ["vfa0", "vfa1", "vfa2"], "enp12s0f1": ["vfb0"]},
                          numvfs={"enp12s0f0": 2})
    vfs = vfs_of(str(tmp_path), "enp12s0f0")
    assert [(v.index, v.netdevs) for v in vfs] == [(0, ["vfa0"]), (1, ["vfa1"])]  # numvfs limits the list
    vf = vf_by_pci(str(tmp_path), addresses["vfb0"])
    assert (vf.pf, vf.index, vf.netdevs) == ("enp12s0f1", 0, ["vfb0"])


def test_missing_pf_and_missing_vf_are_config_errors(tmp_path):
    make_tree(tmp_path, {"enp12s0f0": ["vfa0"]}, numvfs={"enp12s0f0": 0})
    with pytest.raises(CniError, match="not an SR-IOV PF"):
        vfs_of(str(tmp_path), "nosuchpf")
    with pytest.raises(CniError, match="no VFs enabled"):
        vfs_of(str(tmp_path), "enp12s0f0")
    with pytest.raises(CniError, match="is not a VF"):
        vf_by_pci(str(tmp_path), "0000:99:00.0")
