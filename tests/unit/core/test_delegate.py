from multus.core.delegate import Delegate, assign_ifnames


def delegates(*requested):
    return [Delegate(f"d{i}", "", i == 0, {"type": "x"}, requested_ifname=r) for i, r in enumerate(requested)]


def names(ds):
    return [d.ifname for d in ds]


def test_master_gets_runtime_ifname_others_net_position():
    ds = delegates("", "", "", "")
    assign_ifnames(ds, "eth0")
    assert names(ds) == ["eth0", "net1", "net2", "net3"]


def test_names_used_by_other_attachments_are_skipped():
    ds = delegates("", "", "")
    assign_ifnames(ds, "eth1", taken={"eth0", "net1", "net2"})
    assert names(ds) == ["eth1", "net3", "net4"]
    ds = delegates("", "", "")
    assign_ifnames(ds, "eth1", taken={"net1"})
    assert names(ds) == ["eth1", "net2", "net3"]


def test_a_requested_name_does_not_renumber_later_ones():
    ds = delegates("", "foo", "")  # annotation "a@foo, b" after the cluster network
    assign_ifnames(ds, "eth0")
    assert names(ds) == ["eth0", "foo", "net2"]


def test_a_requested_name_wins_even_for_the_master_and_generated_names_avoid_requested_ones():
    ds = delegates("fast0", "net2", "")
    assign_ifnames(ds, "eth0")
    assert names(ds) == ["fast0", "net2", "net3"]


def test_state_round_trip_keeps_every_per_delegate_setting():
    d = Delegate("ns/nad", "networks[0]", False, {"type": "macvlan"}, "IgnoreUnknown=1;IP=10.0.0.5",
                 {"ips": ["10.0.0.5/24"]}, "net1", "net1")
    d.gateways, d.filter_families = ["10.0.0.1"], ["4"]
    d.device_id, d.resource, d.devinfo = "0000:03:02.0", "intel.com/sriov", "/run/x"
    d.result = {"cniVersion": "1.0.0"}
    back = Delegate.from_json(d.to_json())
    assert back.to_json() == d.to_json()
