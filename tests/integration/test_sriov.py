"""The built-in SR-IOV helper on veth stand-ins: real moves, renames, addresses; a fake PF table."""

import json

from tests.conftest import reservations
from tests.hostns import netns_path, pod_links


def if0_conf(host, pf="enp12s0f0", **extra):
    return {"cniVersion": "1.0.0", "name": "sriov-net", "type": "sriov", "if0": pf, "if0name": "north0",
            "createmac": True, "vlan": 100, "cniDir": str(host.state),
            "ipam": {"type": "host-local", "subnet": "10.56.217.0/24", "dataDir": str(host.tmp / "ipam"),
                     "routes": [{"dst": "0.0.0.0/0"}], "gateway": "10.56.217.1"}, **extra}


def attach(netns, cid="sr1", ifname="net1"):
    return {"CNI_CONTAINERID": cid, "CNI_NETNS": netns_path(netns), "CNI_IFNAME": ifname, "CNI_PATH": "/usr/lib/cni"}


def test_if0_add_moves_renames_configures_and_del_restores(sriov_host, netns):
    host = sriov_host(enp12s0f0=2)
    original = host.links()
    conf = if0_conf(host)
    added = host.run("sriov", "ADD", conf, **attach(netns))
    assert added.code == 0, added
    pod = pod_links(netns)
    assert "north0" in pod and pod["north0"]["addrs"][0].startswith("10.56.217.")
    mac = pod["north0"]["mac"]
    assert int(mac.split(":")[0], 16) & 0x03 == 0x02  # createmac: local, unicast
    assert added.json["interfaces"][0] == {"name": "north0", "mac": mac, "sandbox": netns_path(netns)}
    assert "enp12s0f0v0" not in host.links()  # the first free VF was taken
    assert host.calls() == [f"set_vf enp12s0f0 0 vlan=100 qos=0 proto=802.1q mac={mac}"]
    assert (host.state / "pci" / host.pci["enp12s0f0v0"]).read_text() == netns_path(netns)
    assert host.run("sriov", "CHECK", conf, **attach(netns)).code == 0

    deleted = host.run("sriov", "DEL", conf, **attach(netns))
    assert deleted.code == 0, deleted
    assert list(pod_links(netns)) == ["lo"]
    assert host.links()["enp12s0f0v0"] == original["enp12s0f0v0"]  # original name and MAC
    reset = host.calls()[-1]
    assert reset.startswith("set_vf enp12s0f0 0 vlan=0 qos=0 proto=802.1q mac=02:")
    assert reservations(host.tmp / "ipam") == []
    assert not list(host.state.glob("*.json")) and not list((host.state / "pci").iterdir())
    assert host.run("sriov", "DEL", conf, **attach(netns)).code == 0
    unknown = host.run("sriov", "CHECK", conf, **attach(netns))
    assert unknown.code == 1 and "no VF recorded" in unknown.json["msg"]


def test_concurrent_adds_get_different_vfs(sriov_host, netns_factory):
    host = sriov_host(enp12s0f0=3)
    pods = [netns_factory() for _ in range(3)]
    conf = if0_conf(host, vlan=7)
    procs = [host.popen("sriov", "ADD", conf, **attach(p, cid=f"c{i}")) for i, p in enumerate(pods)]
    results = [(p.wait(timeout=60), json.loads(p.stdout.read())) for p in procs]
    assert all(code == 0 for code, _ in results), results
    assert not {f"enp12s0f0v{i}" for i in range(3)} & set(host.links())
    assert len({r["interfaces"][0]["mac"] for _, r in results}) == 3
    assert sorted(line.split()[2] for line in host.calls()) == ["0", "1", "2"]
    for i, p in enumerate(pods):
        assert host.run("sriov", "DEL", conf, **attach(p, cid=f"c{i}")).code == 0
    assert {f"enp12s0f0v{i}" for i in range(3)} <= set(host.links())


def test_no_free_vf_fails_cleanly(sriov_host, netns_factory):
    host = sriov_host(enp12s0f0=1)
    first, second = netns_factory(), netns_factory()
    conf = if0_conf(host)
    assert host.run("sriov", "ADD", conf, **attach(first, cid="a")).code == 0
    refused = host.run("sriov", "ADD", conf, **attach(second, cid="b"))
    assert refused.code == 1 and "no free VF on PF enp12s0f0" in refused.json["msg"]
    assert list(pod_links(second)) == ["lo"]
    assert host.run("sriov", "DEL", conf, **attach(first, cid="a")).code == 0


def test_modern_dialect_device_id_allocation_and_stale_owner(sriov_host, netns_factory):
    host = sriov_host(enp12s0f0=2)
    pci = host.pci["enp12s0f0v1"]
    conf = {"cniVersion": "1.0.0", "name": "modern", "type": "sriov", "cniDir": str(host.state),
            "runtimeConfig": {"deviceID": pci}, "mac": "0a:00:00:00:00:42", "spoofchk": "off", "trust": "on",
            "link_state": "enable", "min_tx_rate": 10, "max_tx_rate": 100,
            "ipam": {"type": "host-local", "subnet": "10.57.0.0/24", "dataDir": str(host.tmp / "ipam")}}
    first, second = netns_factory(), netns_factory()
    added = host.run("sriov", "ADD", conf, **attach(first, cid="m1", ifname="net3"))
    assert added.code == 0, added
    assert pod_links(first)["net3"]["mac"] == "0a:00:00:00:00:42"
    assert host.calls() == ["set_vf enp12s0f0 1 mac=0a:00:00:00:00:42 min_tx_rate=10 max_tx_rate=100 "
                            "spoofchk=0 trust=1 link_state=1"]
    busy = host.run("sriov", "ADD", conf, **attach(second, cid="m2", ifname="net3"))
    assert busy.code == 1 and f"VF {pci} already allocated to {netns_path(first)}" in busy.json["msg"]
    assert host.run("sriov", "DEL", conf, **attach(first, cid="m1", ifname="net3")).code == 0
    assert host.calls()[-1].startswith("set_vf enp12s0f0 1 mac=02:") and "spoofchk=1 trust=0 link_state=0" in \
        host.calls()[-1]
    # An allocation whose namespace is gone is stale, not a reason to refuse.
    (host.state / "pci" / pci).write_text("/var/run/netns/long-gone")
    assert host.run("sriov", "ADD", conf, **attach(second, cid="m2", ifname="net3")).code == 0
    assert host.run("sriov", "DEL", conf, **attach(second, cid="m2", ifname="net3")).code == 0


def test_del_with_pod_namespace_gone_releases_ipam(sriov_host, netns_factory):
    from tests.conftest import ip

    host = sriov_host(enp12s0f0=1)
    pod = netns_factory()
    conf = if0_conf(host)
    assert host.run("sriov", "ADD", conf, **attach(pod)).code == 0
    assert len(reservations(host.tmp / "ipam")) == 1
    ip("netns", "del", pod)
    deleted = host.run("sriov", "DEL", conf, **attach(pod))
    assert deleted.code == 0, deleted
    assert reservations(host.tmp / "ipam") == []
    assert not list(host.state.glob("*.json"))


def test_failed_ipam_undoes_the_move_and_pf_settings(sriov_host, netns):
    host = sriov_host(enp12s0f0=1)
    conf = if0_conf(host)
    conf["ipam"] = {"type": "host-local", "subnet": "not-a-subnet"}
    added = host.run("sriov", "ADD", conf, **attach(netns))
    assert added.code == 1
    assert list(pod_links(netns)) == ["lo"]
    assert "enp12s0f0v0" in host.links()
    assert host.calls()[-1].startswith("set_vf enp12s0f0 0 vlan=0")
    assert not list(host.state.glob("*.json")) and not list((host.state / "pci").iterdir())


def test_del_with_a_corrupt_saved_vf_is_an_io_error_and_keeps_the_vf(sriov_host, netns):
    host = sriov_host(enp12s0f0=1)
    conf = if0_conf(host)
    assert host.run("sriov", "ADD", conf, **attach(netns)).code == 0
    [saved] = host.state.glob("sr1-net1.json")
    good = saved.read_text()
    saved.write_text('{"pf": "enp12s0f0"')
    refused = host.run("sriov", "DEL", conf, **attach(netns))
    assert (refused.code, refused.json["code"]) == (1, 5), refused
    assert str(saved) in refused.json["msg"]
    assert "north0" in pod_links(netns), "the VF was not silently left behind as 'nothing to do'"
    saved.write_text(good)
    assert host.run("sriov", "DEL", conf, **attach(netns)).code == 0
    assert list(pod_links(netns)) == ["lo"]


def test_a_failed_undo_is_added_to_the_original_error(sriov_host, netns, tmp_path):
    """The IPAM fails ADD after the VF moved, and the PF table is broken, so restoring the VF fails too."""
    host = sriov_host(enp12s0f0=1)
    plugins = tmp_path / "ipam-bin"
    plugins.mkdir()
    (plugins / "exploding").write_text(
        f'#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] || exit 0\necho broken > {host.backend}\n'
        'echo \'{"cniVersion":"1.0.0","code":11,"msg":"ipam exploded"}\'\nexit 1\n')
    (plugins / "exploding").chmod(0o755)
    conf = if0_conf(host, ipam={"type": "exploding"})
    added = host.run("sriov", "ADD", conf, **dict(attach(netns), CNI_PATH=f"{plugins}:/usr/lib/cni"))
    assert (added.code, added.json["code"]) == (1, 11), added
    assert added.json["msg"].startswith("ipam exploded; undoing the ADD also failed: sriov: could not fully restore")


def test_an_sriov_nad_with_a_resource_gets_its_device_from_the_kubelet_checkpoint(sriov_host, netns, fake_api,
                                                                                   tmp_path, link_cleanup):
    """The NAD's resourceName picks the pod's allocated VF; the bundled helper attaches that very VF."""
    from tests.conftest import ip, tag
    from tests.fakeapi import nad, pod

    host = sriov_host(enp12s0f0=2)
    # The API server listens on a link the test made between this namespace and the "host" one.
    outside, inside = f"sa{tag()}", f"sb{tag()}"
    link_cleanup.append(outside)
    ip("link", "add", outside, "type", "veth", "peer", "name", inside)
    ip("link", "set", inside, "netns", host.name)
    ip("addr", "add", "10.254.99.1/30", "dev", outside)
    ip("link", "set", outside, "up")
    ip("-n", host.name, "addr", "add", "10.254.99.2/30", "dev", inside)
    ip("-n", host.name, "link", "set", inside, "up")
    vf = host.pci["enp12s0f0v1"]
    checkpoint = tmp_path / "checkpoint"
    checkpoint.write_text(json.dumps({"Data": {"PodDeviceEntries": [
        {"PodUID": "uid-sr", "ContainerName": "c", "ResourceName": "intel.com/sriov", "DeviceIDs": {"0": [vf]}}]}}))
    sriov = {"cniVersion": "1.0.0", "type": "sriov", "cniDir": str(host.state), "vlan": 7,
             "ipam": {"type": "host-local", "subnet": "10.56.218.0/24", "dataDir": str(host.tmp / "ipam")}}
    api = fake_api(pod("sr-pod", uid="uid-sr", annotations={"k8s.v1.cni.cncf.io/networks": "sriov-a@fast0"}),
                   nad("sriov-a", config=sriov, resource="intel.com/sriov"), address="10.254.99.1")
    cluster = tmp_path / "cluster.conf"
    cluster.write_text(json.dumps({"cniVersion": "1.0.0", "name": "podnet", "type": "ptp",
                                   "ipam": {"type": "host-local", "subnet": "10.56.219.0/24",
                                            "dataDir": str(host.tmp / "ipam")}}))
    conf = {"cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus", "kubeconfig": str(api.kubeconfig()),
            "clusterNetwork": str(cluster), "cniDir": str(tmp_path / "multus"),
            "kubeletCheckpointFile": str(checkpoint), "deviceInfoDir": str(tmp_path / "devinfo")}
    env = dict(attach(netns, cid="srk", ifname="eth0"),
               CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=sr-pod;K8S_POD_UID=uid-sr")
    added = host.run("multus", "ADD", conf, **env)
    assert added.code == 0, added
    links = pod_links(netns)
    assert set(links) == {"lo", "eth0", "fast0"} and links["fast0"]["addrs"][0].startswith("10.56.218.")
    assert "enp12s0f0v1" not in host.links() and "enp12s0f0v0" in host.links(), "the allocated VF, not the first"
    assert host.calls() == ["set_vf enp12s0f0 1 vlan=7 qos=0 proto=802.1q"]
    assert [(s["name"], s["interface"]) for s in api.network_status("sr-pod")] == [
        ("podnet", "eth0"), ("default/sriov-a", "fast0")]
    deleted = host.run("multus", "DEL", conf, **env)
    assert deleted.code == 0, deleted
    assert list(pod_links(netns)) == ["lo"] and "enp12s0f0v1" in host.links()
