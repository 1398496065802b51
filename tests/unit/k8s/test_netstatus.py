"""network-status entries from results of every CNI version, written out by hand."""

import pytest

from multus.k8s import netstatus

BRIDGE_10 = {"cniVersion": "1.0.0",
             "interfaces": [{"name": "mbr0", "mac": "ca:eb:00:00:00:01"}, {"name": "veth1", "mac": "6a:00:00:00:00:02"},
                            {"name": "eth0", "mac": "e2:d6:00:00:00:03", "sandbox": "/var/run/netns/p"}],
             "ips": [{"interface": 2, "address": "10.222.0.2/24", "gateway": "10.222.0.1"}],
             "routes": [{"dst": "0.0.0.0/0"}], "dns": {"nameservers": ["10.96.0.10"]}}
MACVLAN_04 = {"cniVersion": "0.4.0", "interfaces": [{"name": "net1", "mac": "ca:2f:00:00:00:04", "sandbox": "/p"}],
              "ips": [{"version": "4", "interface": 0, "address": "10.223.0.4/24", "gateway": "10.223.0.1"}],
              "dns": {}}
LEGACY_02 = {"cniVersion": "0.2.0", "ip4": {"ip": "10.5.0.9/24", "gateway": "10.5.0.1",
                                            "routes": [{"dst": "0.0.0.0/0"}]}, "dns": {}}


def test_master_bridge_result():
    assert netstatus.entries("cbr0", "eth0", BRIDGE_10, "1.0.0", True) == [{
        "name": "cbr0", "interface": "eth0", "ips": ["10.222.0.2"], "mac": "e2:d6:00:00:00:03", "default": True,
        "dns": {"nameservers": ["10.96.0.10"]}, "gateway": ["10.222.0.1"]}]


def test_secondary_single_interface_result_at_0_4_0():
    assert netstatus.entries("default/macvlan-conf", "net1", MACVLAN_04, "0.4.0", False) == [{
        "name": "default/macvlan-conf", "interface": "net1", "ips": ["10.223.0.4"], "mac": "ca:2f:00:00:00:04",
        "default": False, "dns": {}}]


def test_legacy_result_still_gets_an_entry_under_the_delegates_ifname():
    assert netstatus.entries("flannel", "eth0", LEGACY_02, "0.2.0", True) == [{
        "name": "flannel", "interface": "eth0", "ips": ["10.5.0.9"], "default": True, "dns": {},
        "gateway": ["10.5.0.1"]}]


def test_device_info_and_mtu_are_carried():
    result = {"cniVersion": "1.1.0", "interfaces": [{"name": "net1", "mac": "02:00:00:00:00:01", "mtu": 9000,
                                                     "sandbox": "/p"}], "ips": []}
    info = {"type": "pci", "version": "1.1.0", "pci": {"pci-address": "0000:03:02.0"}}
    [entry] = netstatus.entries("ns/sriov", "net1", result, "1.1.0", False, info)
    assert (entry["mtu"], entry["device-info"], entry["ips"]) == (9000, info, [])


def test_two_sandbox_interfaces_give_two_entries_with_their_own_ips():
    result = {"cniVersion": "1.0.0", "interfaces": [{"name": "a", "sandbox": "/p"}, {"name": "h"},
                                                    {"name": "b", "sandbox": "/p"}],
              "ips": [{"interface": 2, "address": "10.0.0.2/24", "gateway": "10.0.0.1"},
                      {"interface": 0, "address": "10.1.0.2/24"}]}
    entries = netstatus.entries("x", "eth0", result, "1.0.0", True)
    assert [(e["interface"], e["ips"], e["default"]) for e in entries] == [("a", ["10.1.0.2"], False),
                                                                          ("b", ["10.0.0.2"], True)]


@pytest.mark.parametrize("result", [None, {}])
def test_no_result_no_entry(result):
    assert netstatus.entries("x", "net1", result, "1.0.0", False) == []


def test_event_message_as_upstream_words_it():
    assert netstatus.event_message("net1", MACVLAN_04, "0.4.0", "default/mv") == "Add net1 [10.223.0.4/24] from default/mv"
