"""Kubernetes mode with real plugins in real namespaces and the project's fake API server over TLS.

The cluster network is a bridge from a file (as the thin entrypoint writes it); NADs are
macvlan and ptp networks; pods are annotated as app owners do.
"""

import json

import pytest

from tests.conftest import (
    FAKE_PLUGINS,
    addrs_in,
    attach_env,
    default_route_dev,
    ip,
    links_in,
    pod_env,
    reservations,
    run_binary,
    run_inprocess,
    tag,
)
from tests.fakeapi import nad, pod

NETWORKS = "k8s.v1.cni.cncf.io/networks"


def calls(api, since):
    return [(r["method"], r["path"].rsplit("/", 1)[-1] if "/status" not in r["path"] else "status", r["status"])
            for r in api.requests(since)]


def macs_in(netns):
    return {link["ifname"]: link.get("address") for link in json.loads(ip("-n", netns, "-j", "link"))}


def test_pod_with_two_nads_gets_every_interface_and_a_true_network_status(cluster, netns, networks):
    api = cluster.start(pod("p1", annotations={NETWORKS: "mv, other/pp@fast0"}, uid="uid-1"),
                        nad("mv", config=cluster.macvlan()), nad("pp", namespace="other", config=cluster.ptp()))
    conf = cluster.multus()
    mark = api.mark()
    added = run_binary("ADD", conf, **pod_env(netns, uid="uid-1"))
    assert added.code == 0, added
    made = calls(api, mark)
    addrs, macs = addrs_in(netns), macs_in(netns)
    assert set(addrs) == {"lo", "eth0", "net1", "fast0"}
    assert addrs["eth0"][0].startswith("10.252.0.") and addrs["net1"][0].startswith("10.252.1.")
    assert addrs["fast0"][0].startswith("10.252.2.")
    status = api.network_status("p1")
    assert [(s["name"], s["interface"], s["ips"], s["mac"], s["default"]) for s in status] == [
        (cluster.bridge_conf["name"], "eth0", [addrs["eth0"][0].split("/")[0]], macs["eth0"], True),
        ("default/mv", "net1", [addrs["net1"][0].split("/")[0]], macs["net1"], False),
        ("other/pp", "fast0", [addrs["fast0"][0].split("/")[0]], macs["fast0"], False)]
    assert made == [("GET", "p1", 200), ("GET", "mv", 200), ("GET", "pp", 200), ("PUT", "status", 200),
                                ("POST", "events", 201), ("POST", "events", 201), ("POST", "events", 201)]
    _, events = api.call("GET", "/api/v1/namespaces/default/events")
    assert sorted(e["message"].split(" [")[0] for e in events["items"]) == [
        "Add eth0", "Add fast0", "Add net1"]
    assert all(r["accept"] == "application/json" and r["auth"] == "bearer" for r in api.requests(mark)[:len(made)])
    assert (added.json["cniVersion"], added.json["ips"][0]["address"]) == ("0.3.1", addrs["eth0"][0])

    mark = api.mark()
    deleted = run_binary("DEL", conf, **pod_env(netns, uid="uid-1"))
    assert deleted.code == 0, deleted
    assert api.requests(mark) == [], "DEL with state makes no API request"
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []


def test_a_status_conflict_is_retried_with_get_and_put(cluster, netns):
    api = cluster.start(pod("p1", annotations={NETWORKS: "mv"}), nad("mv", config=cluster.macvlan()))
    api.knobs(conflicts=2)
    mark = api.mark()
    assert run_inprocess("ADD", cluster.multus(), **pod_env(netns)).code == 0
    status_calls = [c for c in calls(api, mark) if c[1] in ("status", "p1")]
    assert status_calls == [("GET", "p1", 200), ("PUT", "status", 409), ("GET", "p1", 200), ("PUT", "status", 409),
                            ("GET", "p1", 200), ("PUT", "status", 200)]
    assert [s["interface"] for s in api.network_status("p1")] == ["eth0", "net1"]
    assert run_inprocess("DEL", cluster.multus(), **pod_env(netns)).code == 0


def test_other_annotations_and_labels_survive_the_status_write(cluster, netns):
    api = cluster.start(pod("p1", annotations={NETWORKS: "mv", "keep": "me"}, labels={"app": "x"}),
                        nad("mv", config=cluster.macvlan()))
    assert run_inprocess("ADD", cluster.multus(), **pod_env(netns)).code == 0
    meta = api.get_pod("p1")["metadata"]
    assert meta["annotations"]["keep"] == "me" and meta["labels"] == {"app": "x"}
    assert run_inprocess("DEL", cluster.multus(), **pod_env(netns)).code == 0


def test_api_down_on_add_is_try_again_later_and_nothing_attached(cluster, netns, networks):
    api = cluster.start(pod("p1"))
    api.knobs(outage={"status": 503, "count": 1000})
    added = run_inprocess("ADD", cluster.multus(podLookupTimeout=1), **pod_env(netns))
    assert (added.code, added.json["code"]) == (1, 11), added
    assert "503" in added.json["msg"]
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []
    assert len(api.requests()) >= 3, "the pod was asked for again while the API failed"
    api.stop()
    refused = run_inprocess("ADD", cluster.multus(podLookupTimeout=1), **pod_env(netns))
    assert (refused.code, refused.json["code"]) == (1, 11) and "unreachable" in refused.json["msg"]


def test_del_with_the_api_down_or_the_pod_deleted_cleans_everything(cluster, netns_factory, networks):
    api = cluster.start(pod("p1", annotations={NETWORKS: "mv"}), pod("p2", annotations={NETWORKS: "mv"}),
                        nad("mv", config=cluster.macvlan()))
    a, b = netns_factory(), netns_factory()
    assert run_inprocess("ADD", cluster.multus(), **pod_env(a, "p1")).code == 0
    assert run_inprocess("ADD", cluster.multus(), **pod_env(b, "p2")).code == 0
    api.delete("Pod", "p1")
    assert run_inprocess("DEL", cluster.multus(), **pod_env(a, "p1")).code == 0
    api.stop()
    assert run_inprocess("DEL", cluster.multus(), **pod_env(b, "p2")).code == 0
    assert links_in(a) == ["lo"] and links_in(b) == ["lo"] and reservations(networks.ipam_dir) == []


def test_del_without_state_resolves_from_the_api_or_falls_back_to_the_cluster_network(cluster, netns_factory,
                                                                                   networks):
    api = cluster.start(pod("p1", annotations={NETWORKS: "mv"}), pod("p2", annotations={NETWORKS: "mv"}),
                        nad("mv", config=cluster.macvlan()))
    a, b = netns_factory(), netns_factory()
    for ns, name in ((a, "p1"), (b, "p2")):
        assert run_inprocess("ADD", cluster.multus(), **pod_env(ns, name)).code == 0
    for state in networks.state_dir.rglob("*.json"):
        state.unlink()
    assert run_inprocess("DEL", cluster.multus(), **pod_env(a, "p1")).code == 0
    assert links_in(a) == ["lo"], "the NAD's interface was found through the API"
    api.stop()
    deleted = run_inprocess("DEL", cluster.multus(), **pod_env(b, "p2"))
    assert deleted.code == 0, deleted
    assert "cluster network only" in deleted.stderr
    assert links_in(b) == ["lo", "net1"], "without state and API only the cluster network is known"


def test_namespace_isolation_refuses_before_anything_runs(cluster, netns, networks):
    api = cluster.start(pod("p1", namespace="tenant", annotations={NETWORKS: "kube-system/mv"}),
                        nad("mv", namespace="kube-system", config=cluster.macvlan()))
    mark = api.mark()
    added = run_inprocess("ADD", cluster.multus(namespaceIsolation=True), **pod_env(netns, namespace="tenant"))
    assert (added.code, added.json["code"]) == (1, 7)
    assert "namespace isolation" in added.json["msg"] and "tenant/p1" in added.json["msg"]
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []
    assert calls(api, mark) == [("GET", "p1", 200)]


def test_a_missing_nad_fails_before_any_delegate_and_says_so_in_an_event(cluster, netns, networks):
    api = cluster.start(pod("p1", annotations={NETWORKS: "mv, nope"}), nad("mv", config=cluster.macvlan()))
    added = run_inprocess("ADD", cluster.multus(), **pod_env(netns))
    assert (added.code, added.json["code"]) == (1, 7)
    assert "(nope)" in added.json["msg"] and "(default)" in added.json["msg"]
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []
    _, events = api.call("GET", "/api/v1/namespaces/default/events")
    assert [(e["reason"], e["type"]) for e in events["items"]] == [("NoNetworkFound", "Warning")]


def test_a_refused_status_write_fails_the_add_naming_the_right_and_rolls_back(cluster, netns, networks):
    api = cluster.start(pod("p1", annotations={NETWORKS: "mv"}), nad("mv", config=cluster.macvlan()))
    api.knobs(forbid=[{"verb": "update", "resource": "pods", "subresource": "status"}])
    added = run_inprocess("ADD", cluster.multus(), **pod_env(netns))
    assert (added.code, added.json["code"]) == (1, 7), added
    assert "update pods/status" in added.json["msg"] and "403" in added.json["msg"]
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []
    assert not list(networks.state_dir.rglob("*.json"))


def test_pod_not_found_attaches_the_cluster_network_only(cluster, netns):
    cluster.start(nad("mv", config=cluster.macvlan()))
    added = run_inprocess("ADD", cluster.multus(), **pod_env(netns, name="static-pod"))
    assert added.code == 0, added
    assert "not found in the API: attaching the cluster network only" in added.stderr
    assert set(links_in(netns)) == {"lo", "eth0"}
    assert run_inprocess("DEL", cluster.multus(), **pod_env(netns, name="static-pod")).code == 0


def test_a_recreated_pod_is_refused_unless_it_is_static(cluster, netns):
    cluster.start(pod("p1", uid="new-uid"), pod("mirror", uid="mirror-uid",
                                                annotations={"kubernetes.io/config.source": "file"}))
    added = run_inprocess("ADD", cluster.multus(), **pod_env(netns, uid="old-uid"))
    assert (added.code, added.json["code"]) == (1, 3)
    assert "expected pod UID 'old-uid' but got 'new-uid'" in added.json["msg"]
    assert links_in(netns) == ["lo"]
    static = run_inprocess("ADD", cluster.multus(), **pod_env(netns, name="mirror", uid="kubelet-uid"))
    assert static.code == 0, static
    assert run_inprocess("DEL", cluster.multus(), **pod_env(netns, name="mirror", uid="kubelet-uid")).code == 0


def test_default_route_moves_to_the_network_that_asks(cluster, netns):
    annotation = json.dumps([{"name": "mv", "default-route": ["10.252.1.254"]}])
    api = cluster.start(pod("p1", annotations={NETWORKS: annotation}), nad("mv", config=cluster.macvlan()))
    assert run_inprocess("ADD", cluster.multus(), **pod_env(netns)).code == 0
    routes = [r for r in json.loads(ip("-n", netns, "-j", "route")) if r.get("dst") == "default"]
    assert [(r["dev"], r["gateway"]) for r in routes] == [("net1", "10.252.1.254")]
    status = {s["interface"]: s for s in api.network_status("p1")}
    assert status["net1"]["gateway"] == ["10.252.1.254"] and "gateway" not in status["eth0"]
    assert run_inprocess("DEL", cluster.multus(), **pod_env(netns)).code == 0


def test_without_default_route_the_cluster_network_keeps_it(cluster, netns):
    cluster.start(pod("p1", annotations={NETWORKS: json.dumps([{"name": "mv", "default-route": []}])}),
                  nad("mv", config=cluster.macvlan()))
    assert run_inprocess("ADD", cluster.multus(), **pod_env(netns)).code == 0
    assert default_route_dev(netns) == "eth0", "an empty default-route list changes nothing (upstream quirk Q3)"
    assert run_inprocess("DEL", cluster.multus(), **pod_env(netns)).code == 0


def test_a_device_from_the_kubelet_checkpoint_reaches_the_delegate(cluster, netns, recorder, tmp_path):
    checkpoint = tmp_path / "kubelet_internal_checkpoint"
    checkpoint.write_text(json.dumps({"Data": {"PodDeviceEntries": [
        {"PodUID": "uid-9", "ContainerName": "c", "ResourceName": "intel.com/sriov",
         "DeviceIDs": {"0": ["0000:03:02.3", "0000:03:02.1"]}}], "RegisteredDevices": {}}, "Checksum": 1}))
    devinfo = tmp_path / "devinfo"
    (devinfo / "dp").mkdir(parents=True)
    (devinfo / "dp" / "intel.com-sriov-0000:03:02.1-device.json").write_text('{"type":"pci","version":"1.1.0"}')
    rec = {"cniVersion": "1.0.0", "type": "recorder", "capabilities": {"deviceID": True, "CNIDeviceInfoFile": True}}
    api = cluster.start(pod("p1", uid="uid-9", annotations={NETWORKS: "sr"}),
                        nad("sr", config=rec, resource="intel.com/sriov"))
    conf = cluster.multus(kubeletCheckpointFile=str(checkpoint), deviceInfoDir=str(devinfo))
    env = dict(pod_env(netns, uid="uid-9"), CNI_PATH=f"{FAKE_PLUGINS}:/usr/lib/cni")
    added = run_inprocess("ADD", conf, **env)
    assert added.code == 0, added
    [sent] = [c["stdin"] for c in recorder()]
    info_file = str(devinfo / "cni" / f"default-sr-{env['CNI_CONTAINERID']}_net1")
    assert (sent["deviceID"], sent["pciBusID"]) == ("0000:03:02.1", "0000:03:02.1")
    assert sent["runtimeConfig"] == {"deviceID": "0000:03:02.1", "CNIDeviceInfoFile": info_file}
    status = {s["interface"]: s for s in api.network_status("p1")}
    assert status["net1"]["device-info"] == {"type": "pci", "version": "1.1.0"}
    assert run_inprocess("DEL", conf, **env).code == 0
    assert not (devinfo / "cni" / f"default-sr-{env['CNI_CONTAINERID']}_net1").exists()


def test_readiness_file_is_awaited_on_add_but_never_on_del(cluster, netns, networks, tmp_path):
    api = cluster.start(pod("p1"))
    flag = tmp_path / "subnet.env"
    conf = cluster.multus(readinessindicatorfile=str(flag), readinessindicatorTimeout=1)
    mark = api.mark()
    added = run_inprocess("ADD", conf, **pod_env(netns))
    assert (added.code, added.json["code"]) == (1, 11) and str(flag) in added.json["msg"]
    assert api.requests(mark) == [] and links_in(netns) == ["lo"], "no API request and no delegate before the file"
    assert run_inprocess("DEL", conf, **pod_env(netns)).code == 0
    flag.write_text("FLANNEL_NETWORK=10.0.0.0/8\n")
    assert run_inprocess("ADD", conf, **pod_env(netns)).code == 0
    flag.unlink()
    assert run_inprocess("DEL", conf, **pod_env(netns)).code == 0
    assert links_in(netns) == ["lo"]


@pytest.mark.parametrize("auth", ["client-cert-data", "client-cert-files", "token-file", "json-kubeconfig"])
def test_every_kubeconfig_auth_kind_works(cluster, netns, auth, tmp_path):
    api = cluster.start(pod("p1"))
    token_file = tmp_path / "token"
    token_file.write_text("plugin-token\n")
    kubeconfig = {
        "client-cert-data": lambda: api.kubeconfig("k1", user=api.cert_user(True)),
        "client-cert-files": lambda: api.kubeconfig("k2", user=api.cert_user(False)),
        "token-file": lambda: api.kubeconfig("k3", user={"tokenFile": str(token_file)}),
        "json-kubeconfig": lambda: api.kubeconfig("k4", fmt="json"),
    }[auth]()
    mark = api.mark()
    added = run_binary("ADD", cluster.multus(kubeconfig), **pod_env(netns))
    assert added.code == 0, added
    assert {r["auth"] for r in api.requests(mark)} == {"x509" if "cert" in auth else "bearer"}
    assert run_binary("DEL", cluster.multus(kubeconfig), **pod_env(netns)).code == 0


def test_rejected_credentials_are_a_clear_error(cluster, netns):
    api = cluster.start(pod("p1"))
    bad = api.kubeconfig("bad", user={"token": "wrong"})
    added = run_inprocess("ADD", cluster.multus(bad), **pod_env(netns))
    assert (added.code, added.json["code"]) == (1, 7)
    assert "401 Unauthorized" in added.json["msg"]
    assert links_in(netns) == ["lo"]


def test_pod_annotations_from_the_runtime_without_any_api(cluster, netns, tmp_path, networks):
    conf_dir = tmp_path / "multus.d"
    conf_dir.mkdir()
    (conf_dir / "mv.conf").write_text(json.dumps(dict(cluster.macvlan(), name="macvlan-conf")))
    conf = cluster.multus(kubeconfig=False, confDir=str(conf_dir), podAnnotationsFromRuntime=True, logLevel="verbose",
                          runtimeConfig={"io.kubernetes.cri.pod-annotations": {NETWORKS: "macvlan-conf@data0"}})
    added = run_inprocess("ADD", conf, **pod_env(netns))
    assert added.code == 0, added
    assert set(links_in(netns)) == {"lo", "eth0", "data0"}
    assert "network-status not written" in added.stderr
    assert run_inprocess("DEL", conf, **pod_env(netns)).code == 0
    ignored = dict(conf, podAnnotationsFromRuntime=False)
    assert run_inprocess("ADD", ignored, **pod_env(netns)).code == 0
    assert set(links_in(netns)) == {"lo", "eth0"}, "without the key the runtime's annotations are ignored"
    assert run_inprocess("DEL", ignored, **pod_env(netns)).code == 0


def test_static_delegates_stay_the_cluster_network_with_annotations_appended(cluster, netns, networks):
    api = cluster.start(pod("p1", annotations={NETWORKS: "mv"}), nad("mv", config=cluster.macvlan()))
    conf = {"cniVersion": "0.3.1", "name": f"m-{tag()}", "type": "multus", "kubeconfig": str(api.kubeconfig()),
            "cniDir": str(networks.state_dir), "delegates": [cluster.bridge_conf]}
    assert run_inprocess("ADD", conf, **pod_env(netns)).code == 0
    assert set(links_in(netns)) == {"lo", "eth0", "net1"}
    assert run_inprocess("DEL", conf, **pod_env(netns)).code == 0


def test_gc_with_an_unreadable_state_and_the_api_down_still_removes_the_stale_one(cluster, networks, netns_factory):
    """GC cannot tell what an unreadable attachment holds while the cluster network's NAD cannot be
    read: it keeps that one, still undoes the stale one (its state says what to delete), and
    reports error 11 instead of letting delegates free what the unknown one may use."""
    api = cluster.start(nad("clusternet", namespace="kube-system", config=cluster.macvlan("10.252.3.0/24")))
    conf = cluster.multus(clusterNetwork="clusternet", cniVersion="1.1.0")
    stale, broken, keep = netns_factory(), netns_factory(), netns_factory()
    for ns in (stale, broken, keep):
        assert run_inprocess("ADD", conf, **attach_env(ns, cid=ns)).code == 0
    (networks.state_dir / "attachments" / broken / "eth0.json").write_text("{corrupt")
    api.knobs(outage={"status": 503, "count": 1000})
    valid = [{"containerID": broken, "ifname": "eth0"}, {"containerID": keep, "ifname": "eth0"}]
    done = run_inprocess("GC", {**conf, "cni.dev/valid-attachments": valid})
    assert (done.code, done.json["code"]) == (1, 11), done
    assert f"cannot tell what {broken}/eth0 holds" in done.json["msg"] and "delegate GC skipped" in done.json["msg"]
    assert links_in(stale) == ["lo"], "the stale attachment was undone from its own state"
    assert "eth0" in links_in(broken) and "eth0" in links_in(keep)
    api.knobs(outage={})
    for ns in (broken, keep):
        assert run_inprocess("DEL", conf, **attach_env(ns, cid=ns)).code == 0
    assert reservations(networks.ipam_dir) == []


def test_a_results_file_the_disk_refuses_costs_only_the_results(cluster, netns, networks, monkeypatch):
    """Written beside network-status; the durable first version already says what to undo."""
    from multus.core import state

    real_save = state.StateStore.save

    def save(self, entry, update=False):
        if update:
            raise OSError(28, "No space left on device")
        return real_save(self, entry, update)

    monkeypatch.setattr(state.StateStore, "save", save)
    api = cluster.start(pod("p1", annotations={NETWORKS: "mv"}), nad("mv", config=cluster.macvlan()))
    added = run_inprocess("ADD", cluster.multus(), **pod_env(netns))
    assert added.code == 0, added
    assert "cannot write the results" in added.stderr and "No space left on device" in added.stderr
    assert set(links_in(netns)) == {"lo", "eth0", "net1"}
    assert [r["method"] for r in api.requests() if r["path"].endswith("/status")] == ["PUT"]
    assert not list(networks.state_dir.rglob("*.result"))
    assert run_inprocess("DEL", cluster.multus(), **pod_env(netns)).code == 0
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []
    assert not list(networks.state_dir.rglob("*.json"))
