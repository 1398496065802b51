from multus.core.delegate import assign_ifnames, resolve
from multus.core.netconf import load


def netconf(delegates, **kw):
    return load({"cniVersion": "0.3.1", "name": "parent", "type": "multus", "delegates": delegates, **kw})


def test_master_gets_runtime_ifname_others_net_position():
    assert assign_ifnames(4, "eth0") == ["eth0", "net1", "net2", "net3"]


def test_names_used_by_other_attachments_are_skipped():
    assert assign_ifnames(3, "eth1", taken={"eth0", "net1", "net2"}) == ["eth1", "net3", "net4"]
    assert assign_ifnames(3, "eth1", taken={"net1"}) == ["eth1", "net2", "net3"]


def test_master_runs_first_wherever_it_is_listed():
    delegates = resolve(netconf([{"type": "sriov"}, {"type": "sriov2"}, {"type": "flannel", "masterplugin": True}]),
                        "eth0")
    assert [(d.index, d.ifname, d.master, d.conf["type"]) for d in delegates] == [
        (2, "eth0", True, "flannel"), (0, "net1", False, "sriov"), (1, "net2", False, "sriov2")]


def test_name_and_version_injected_only_when_missing():
    first, second = resolve(netconf([{"type": "a"}, {"type": "b", "name": "own", "cniVersion": "1.0.0"}]), "eth0")
    assert (first.conf["name"], first.conf["cniVersion"]) == ("parent", "0.3.1")
    assert (second.conf["name"], second.conf["cniVersion"]) == ("own", "1.0.0")


def test_multus_only_keys_are_not_sent_to_plugins_but_nested_ones_are():
    [d] = resolve(netconf([{"type": "flannel", "masterplugin": True, "delegate": {"isDefaultGateway": True}}]), "eth0")
    assert "masterplugin" not in d.conf
    assert d.conf["delegate"] == {"isDefaultGateway": True}


def test_operator_config_is_not_mutated():
    raw = [{"type": "a"}]
    resolve(netconf(raw), "eth0")
    assert raw == [{"type": "a"}]
