"""ADD/CHECK/DEL with the real reference plugins in real namespaces."""

import json

import pytest

from tests.conftest import addrs_in, attach_env, default_route_dev, links_in, reservations, run_binary, run_inprocess


def three(networks, version="1.0.0"):
    return networks.multus(networks.bridge("10.251.0.0/24"), networks.macvlan("10.251.1.0/24"),
                           networks.ptp("10.251.2.0/24"), version=version)


def in_subnet(cidrs, prefix):
    return any(c.startswith(prefix) for c in cidrs)


def test_bridge_macvlan_ptp_attach_check_and_detach(netns, networks):
    conf = three(networks)
    env = attach_env(netns)
    added = run_inprocess("ADD", conf, **env)
    assert added.code == 0, added
    addrs = addrs_in(netns)
    assert set(addrs) == {"lo", "eth0", "net1", "net2"}
    assert in_subnet(addrs["eth0"], "10.251.0.") and in_subnet(addrs["net1"], "10.251.1.")
    assert in_subnet(addrs["net2"], "10.251.2.")
    assert default_route_dev(netns) == "eth0"
    # Only the master's result, in the config's version.
    assert added.json["cniVersion"] == "1.0.0"
    assert [ip["address"] for ip in added.json["ips"]] == addrs["eth0"]
    assert len(reservations(networks.ipam_dir)) == 3

    checked = run_inprocess("CHECK", conf, **env)
    assert (checked.code, checked.json) == (0, None), checked

    deleted = run_inprocess("DEL", conf, **env)
    assert deleted.code == 0, deleted
    assert links_in(netns) == ["lo"]
    assert reservations(networks.ipam_dir) == []
    assert not list((networks.state_dir / "attachments").iterdir())


@pytest.mark.parametrize("version", ["0.2.0", "0.3.1", "0.4.0", "1.1.0"])
def test_master_result_converted_to_config_version(netns, networks, version):
    conf = networks.multus(networks.bridge("10.251.0.0/24", cniVersion="1.0.0"), version=version)
    added = run_inprocess("ADD", conf, **attach_env(netns))
    try:
        assert added.code == 0, added
        assert added.json["cniVersion"] == version
        eth0 = addrs_in(netns)["eth0"]
        if version == "0.2.0":
            assert added.json["ip4"]["ip"] == eth0[0] and "interfaces" not in added.json
        else:
            assert added.json["ips"][0]["address"] == eth0[0]
            assert ("version" in added.json["ips"][0]) == version.startswith("0.")
    finally:
        assert run_inprocess("DEL", conf, **attach_env(netns)).code == 0


def test_rollback_when_a_delegate_fails(netns, networks):
    bad = networks.macvlan("10.251.3.0/24")
    bad["master"] = "no-such-link"
    conf = networks.multus(networks.bridge(), networks.macvlan(), bad)
    added = run_inprocess("ADD", conf, **attach_env(netns))
    assert added.code != 0
    assert bad["name"] in added.json["msg"] and "ADD failed" in added.json["msg"]
    assert links_in(netns) == ["lo"]
    assert reservations(networks.ipam_dir) == []
    assert not list((networks.state_dir / "attachments").iterdir())


def test_del_without_state_uses_current_config(netns, networks):
    conf = three(networks)
    env = attach_env(netns)
    assert run_inprocess("ADD", conf, **env).code == 0
    for f in (networks.state_dir / "attachments").rglob("*.json"):
        f.unlink()
    deleted = run_inprocess("DEL", conf, **env)
    assert deleted.code == 0, deleted
    assert links_in(netns) == ["lo"]
    assert reservations(networks.ipam_dir) == []


@pytest.mark.parametrize("garbage", [b"", b"{\"kind\": \"multusAttach", b"[]", b"\x00\xff"])
def test_del_with_corrupt_state_still_cleans_up(netns, networks, garbage):
    conf = three(networks)
    env = attach_env(netns)
    assert run_inprocess("ADD", conf, **env).code == 0
    [state] = list((networks.state_dir / "attachments").rglob("eth0.json"))
    state.write_bytes(garbage)
    deleted = run_inprocess("DEL", conf, **env)
    assert deleted.code == 0, deleted
    assert "corrupt state" in deleted.stderr
    assert links_in(netns) == ["lo"]
    assert reservations(networks.ipam_dir) == []
    assert not state.exists()


def test_del_twice_and_with_namespace_gone(netns_factory, networks):
    from tests.conftest import ip

    conf = three(networks)
    ns = netns_factory()
    env = attach_env(ns)
    assert run_inprocess("ADD", conf, **env).code == 0
    ip("netns", "del", ns)
    first = run_inprocess("DEL", conf, **env)
    assert first.code == 0, first
    assert reservations(networks.ipam_dir) == []
    second = run_inprocess("DEL", conf, **{**env, "CNI_NETNS": ""})
    assert second.code == 0, second


def test_check_reports_a_missing_interface(netns, networks):
    from tests.conftest import ip

    conf = three(networks)
    env = attach_env(netns)
    assert run_inprocess("ADD", conf, **env).code == 0
    try:
        ip("-n", netns, "link", "del", "net1")
        checked = run_inprocess("CHECK", conf, **env)
        assert checked.code != 0
        assert "CHECK failed" in checked.json["msg"] and "net1" in checked.json["msg"]
    finally:
        assert run_inprocess("DEL", conf, **env).code == 0


def test_check_without_attachment_is_unknown_container(netns, networks):
    checked = run_inprocess("CHECK", three(networks), **attach_env(netns))
    assert checked.json["code"] == 3


def test_second_add_of_same_attachment_is_refused_and_harmless(netns, networks):
    conf = three(networks)
    env = attach_env(netns)
    assert run_inprocess("ADD", conf, **env).code == 0
    again = run_inprocess("ADD", conf, **env)
    assert again.code != 0 and "already has a multus attachment" in again.json["msg"]
    assert len(reservations(networks.ipam_dir)) == 3
    assert run_inprocess("DEL", conf, **env).code == 0
    assert links_in(netns) == ["lo"]


def test_two_multus_attachments_in_one_container_stay_apart(netns, networks):
    first = networks.multus(networks.bridge("10.251.0.0/24"), networks.macvlan("10.251.1.0/24"))
    second = networks.multus(networks.bridge("10.251.4.0/24"), networks.macvlan("10.251.5.0/24"))
    env0 = attach_env(netns, cid="shared", ifname="eth0")
    env1 = attach_env(netns, cid="shared", ifname="eth1")
    assert run_inprocess("ADD", first, **env0).code == 0
    added = run_inprocess("ADD", second, **env1)
    assert added.code == 0, added
    addrs = addrs_in(netns)
    assert set(addrs) == {"lo", "eth0", "net1", "eth1", "net2"}
    assert in_subnet(addrs["net2"], "10.251.5.")
    assert run_inprocess("DEL", second, **env1).code == 0
    assert set(links_in(netns)) == {"lo", "eth0", "net1"}
    assert len(reservations(networks.ipam_dir)) == 2
    assert run_inprocess("DEL", first, **env0).code == 0
    assert links_in(netns) == ["lo"]
    assert reservations(networks.ipam_dir) == []


def test_state_is_private_and_written_before_delegates_run(netns, networks):
    conf = three(networks)
    env = attach_env(netns)
    assert run_inprocess("ADD", conf, **env).code == 0
    try:
        [state] = list((networks.state_dir / "attachments").rglob("eth0.json"))
        assert state.stat().st_mode & 0o777 == 0o600
        assert state.parent.stat().st_mode & 0o777 == 0o700
        stored = json.loads(state.read_text())
        assert [d["ifname"] for d in stored["delegates"]] == ["eth0", "net1", "net2"]
        # Written before any delegate ran, so without results; those are in a file of their own.
        assert [d["result"] for d in stored["delegates"]] == [None, None, None]
        results = state.with_name("eth0.result")
        assert results.stat().st_mode & 0o777 == 0o600
        written = json.loads(results.read_text())
        assert written["attachmentId"] == stored["attachmentId"] != ""
        assert [r["cniVersion"] and bool(r["ips"]) for r in written["results"]] == [True] * 3
    finally:
        assert run_inprocess("DEL", conf, **env).code == 0


def test_binary_version_and_cycle(netns, networks):
    version = run_binary("VERSION", b"")
    assert version.code == 0 and version.json["supportedVersions"][-1] == "1.1.0"
    conf = three(networks)
    env = attach_env(netns)
    added = run_binary("ADD", conf, **env)
    assert added.code == 0, added
    assert set(links_in(netns)) == {"lo", "eth0", "net1", "net2"}
    deleted = run_binary("DEL", conf, **env)
    assert deleted.code == 0, deleted
    assert links_in(netns) == ["lo"]


def test_sequential_and_concurrent_modes_give_identical_output_and_state(netns_factory, networks):
    outputs, states = [], []
    for concurrent in (False, True):
        ns = netns_factory()
        conf = networks.multus(networks.bridge(), networks.macvlan(), networks.ptp(), concurrentDelegates=concurrent)
        env = attach_env(ns, cid="same-cid")
        added = run_inprocess("ADD", conf, **env)
        assert added.code == 0, added
        stored = json.loads(next((networks.state_dir / "attachments").rglob("eth0.json")).read_text())
        states.append([(d["source"], d["ifname"], d["master"], d["conf"]["type"]) for d in stored["delegates"]])
        outputs.append({k: v for k, v in added.json.items() if k not in ("interfaces", "ips")})
        assert set(links_in(ns)) == {"lo", "eth0", "net1", "net2"}
        assert run_inprocess("DEL", conf, **env).code == 0
        assert links_in(ns) == ["lo"]
    assert outputs[0] == outputs[1] and states[0] == states[1]


def test_del_converges_even_with_malformed_cni_args(netns, networks):
    conf = three(networks)
    assert run_inprocess("ADD", conf, **attach_env(netns)).code == 0
    refused = run_inprocess("ADD", conf, **attach_env(netns, cid="other", CNI_ARGS="garbage"))
    assert refused.json["code"] == 4
    deleted = run_inprocess("DEL", conf, **attach_env(netns, CNI_ARGS="IgnoreUnknown=1;garbage"))
    assert deleted.code == 0, deleted
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []
