"""Resolution: static lists, cluster network, defaultNetworks, annotations and NADs → delegates.

NADs come from a hand-written lookup (a dict), as the API would answer them.
"""

import json

import pytest

from multus.cni.errors import INVALID_CONFIG, CniError
from multus.core.netconf import load
from multus.core.resolve import PodInfo, Resolver

NETWORKS = "k8s.v1.cni.cncf.io/networks"


def netconf(**kw):
    base = {"cniVersion": "0.3.1", "name": "parent", "type": "multus"}
    base.update(kw)
    if "delegates" not in base and "clusterNetwork" not in base:
        base["delegates"] = [{"type": "flannel", "name": "cbr0"}]
    return load(base)


def nad(name, ns="default", config=None, resource=""):
    meta = {"name": name, "namespace": ns}
    if resource:
        meta["annotations"] = {"k8s.v1.cni.cncf.io/resourceName": resource}
    return {"metadata": meta, "spec": {"config": json.dumps(config)} if config is not None else {}}


class Api:
    """The NADs an API server holds; a miss is a 404 as the client reports it."""

    def __init__(self, *nads):
        self.nads = {(n["metadata"]["namespace"], n["metadata"]["name"]): n for n in nads}
        self.asked = []

    def __call__(self, ns, name):
        self.asked.append(f"{ns}/{name}")
        if (ns, name) not in self.nads:
            from multus.k8s.client import ApiError

            raise ApiError(INVALID_CONFIG, f"cannot find a network-attachment-definition ({name}) in namespace ({ns})",
                           404, "NotFound")
        return self.nads[(ns, name)]


def resolve(conf, pod=None, api=None, args="IgnoreUnknown=1;K8S_POD_NAME=p", devices=None, cluster_only=False):
    return Resolver(conf, args, "eth0", "cid1", api, devices).resolve(pod, cluster_only)


def pod(annotations=None, ns="default", uid="uid-1"):
    return PodInfo(ns, "p", uid, annotations or {})


def summary(delegates):
    return [(d.name, d.ifname, d.master, d.conf.get("type") or "list") for d in delegates]


def error_of(fn):
    with pytest.raises(CniError) as info:
        fn()
    return info.value


# --- static delegates ---------------------------------------------------------------------------

def test_master_runs_first_wherever_it_is_listed():
    conf = netconf(delegates=[{"type": "sriov"}, {"type": "sriov2"}, {"type": "flannel", "masterplugin": True}])
    ds = resolve(conf)
    assert [(d.source, d.ifname, d.master, d.conf["type"]) for d in ds] == [
        ("delegates[2]", "eth0", True, "flannel"), ("delegates[0]", "net1", False, "sriov"),
        ("delegates[1]", "net2", False, "sriov2")]


def test_name_and_version_injected_only_when_missing_and_multus_keys_dropped():
    conf = netconf(delegates=[{"type": "a", "masterplugin": True, "delegate": {"x": 1}},
                              {"type": "b", "name": "own", "cniVersion": "1.0.0"}])
    first, second = resolve(conf)
    assert (first.conf["name"], first.conf["cniVersion"], first.name) == ("parent", "0.3.1", "parent")
    assert (second.conf["name"], second.conf["cniVersion"], second.name) == ("own", "1.0.0", "own")
    assert "masterplugin" not in first.conf and first.conf["delegate"] == {"x": 1}


def test_operator_config_is_not_mutated():
    raw = [{"type": "a"}]
    resolve(netconf(delegates=raw))
    assert raw == [{"type": "a"}]


def test_runtime_ip_and_mac_reach_the_master_only():
    conf = netconf(delegates=[{"type": "a"}, {"type": "b"}],
                   runtimeConfig={"ips": ["10.1.0.5/24"], "mac": "02:00:00:00:00:05", "portMappings": []})
    master, other = resolve(conf, args="IgnoreUnknown=1;IP=10.1.0.5;MAC=02:00:00:00:00:05")
    assert master.args == "IgnoreUnknown=1;IP=10.1.0.5;MAC=02:00:00:00:00:05"
    assert master.runtime_config == {"ips": ["10.1.0.5/24"], "mac": "02:00:00:00:00:05", "portMappings": []}
    assert (other.args, other.runtime_config) == ("IgnoreUnknown=1", {"portMappings": []})


# --- annotations and NADs -------------------------------------------------------------------------

MACVLAN = {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth1",
           "capabilities": {"ips": True, "mac": True}, "ipam": {"type": "static"}}


def test_annotation_networks_follow_the_cluster_network_in_order():
    api = Api(nad("net1", config=dict(MACVLAN, name="mynet")), nad("net2", config={"type": "bridge"}),
              nad("net3", config={"type": "ptp"}))
    ds = resolve(netconf(), pod({NETWORKS: "net1, net2"}), api)
    assert summary(ds) == [("cbr0", "eth0", True, "flannel"), ("default/net1", "net1", False, "macvlan"),
                           ("default/net2", "net2", False, "bridge")]
    assert ds[1].conf["name"] == "mynet" and ds[2].conf["name"] == "net2", "a NAD's config without name gets the NAD's"
    assert api.asked == ["default/net1", "default/net2"]


def test_a_missing_nad_names_it_and_its_namespace():
    err = error_of(lambda: resolve(netconf(), pod({NETWORKS: "other/nope"}), Api()))
    assert err.code == INVALID_CONFIG and "(nope)" in err.msg and "(other)" in err.msg


def test_text_form_interface_and_numbering():
    api = Api(nad("a", config={"type": "bridge"}), nad("b", config={"type": "ptp"}),
              nad("c", ns="infra", config={"type": "macvlan"}))
    ds = resolve(netconf(), pod({NETWORKS: "a@foo, b, infra/c@fast0"}), api)
    assert [d.ifname for d in ds] == ["eth0", "foo", "net2", "fast0"]
    assert ds[3].name == "infra/c"


def test_json_form_requests_reach_that_delegate_only():
    api = Api(nad("mv", config=dict(MACVLAN, args={"cni": {"keep": "me", "trust": "off"}})))
    annotation = json.dumps([{"name": "mv", "interface": "macvlan1", "ips": ["10.1.1.21/24"],
                              "mac": "c2:11:22:33:44:66", "portMappings": [{"hostPort": 1, "containerPort": 2}],
                              "bandwidth": {"ingressRate": 1}, "cni-args": {"trust": "on"}, "infiniband-guid":
                              "c2:11:22:33:44:66:77:88", "ipRequest": "ignored"}])
    master, mv = resolve(netconf(runtimeConfig={"portMappings": []}), pod({NETWORKS: annotation}), api)
    assert mv.ifname == "macvlan1"
    assert mv.runtime_config == {"portMappings": [{"hostPort": 1, "containerPort": 2}], "bandwidth": {"ingressRate": 1},
                                 "ips": ["10.1.1.21/24"], "mac": "c2:11:22:33:44:66",
                                 "infinibandGUID": "c2:11:22:33:44:66:77:88"}
    assert mv.args == "IgnoreUnknown=1;K8S_POD_NAME=p;MAC=c2:11:22:33:44:66;IP=10.1.1.21/24"
    assert mv.conf["args"] == {"cni": {"keep": "me", "trust": "on"}}
    assert master.runtime_config == {"portMappings": []} and master.args == "IgnoreUnknown=1;K8S_POD_NAME=p"


def test_cni_args_reach_every_plugin_of_a_conflist():
    conflist = {"cniVersion": "0.4.0", "plugins": [{"type": "macvlan"}, {"type": "tuning"}]}
    api = Api(nad("l", config=conflist))
    _, d = resolve(netconf(), pod({NETWORKS: json.dumps([{"name": "l", "cni-args": {"a": "1"}}])}), api)
    assert [p["args"] for p in d.conf["plugins"]] == [{"cni": {"a": "1"}}, {"cni": {"a": "1"}}]
    assert d.conf["name"] == "l"


def test_default_network_annotation_replaces_the_master():
    api = Api(nad("net1", ns="kube-system", config={"type": "mynet1"}), nad("net2", ns="kube-system",
                                                                            config={"type": "mynet2"}))
    ds = resolve(netconf(clusterNetwork="net2"), pod({"v1.multus-cni.io/default-network": "net1"}), api)
    assert summary(ds) == [("kube-system/net1", "eth0", True, "mynet1")]
    two = error_of(lambda: resolve(netconf(), pod({"v1.multus-cni.io/default-network": "a, b"}), api))
    assert "exactly one" in two.msg


def test_cluster_network_by_nad_name_then_default_networks_skipped_in_system_namespaces():
    api = Api(nad("myCRD1", ns="kube-system", config={"type": "mynet"}),
              nad("myCRD2", ns="kube-system", config={"type": "other"}))
    conf = netconf(clusterNetwork="myCRD1", defaultNetworks=["myCRD2"])
    assert summary(resolve(conf, pod(), api)) == [("kube-system/myCRD1", "eth0", True, "mynet"),
                                                  ("kube-system/myCRD2", "net1", False, "other")]
    assert summary(resolve(conf, pod(ns="kube-system"), api)) == [("kube-system/myCRD1", "eth0", True, "mynet")]


def test_cluster_network_from_a_file_a_directory_or_confdir_without_any_api(tmp_path):
    (tmp_path / "10-flannel.conflist").write_text(json.dumps({"cniVersion": "0.3.1", "name": "cbr0",
                                                              "plugins": [{"type": "flannel"}]}))
    (tmp_path / "20-other.conf").write_text(json.dumps({"cniVersion": "0.3.1", "name": "other", "type": "bridge"}))
    by_file = resolve(netconf(clusterNetwork=str(tmp_path / "20-other.conf")))
    by_dir = resolve(netconf(clusterNetwork=str(tmp_path)))
    by_name = resolve(netconf(clusterNetwork="other", confDir=str(tmp_path)))
    assert summary(by_file) == [("other", "eth0", True, "bridge")]
    assert summary(by_dir) == [("cbr0", "eth0", True, "list")]
    assert summary(by_name) == [("other", "eth0", True, "bridge")]
    missing = error_of(lambda: resolve(netconf(clusterNetwork="nope", confDir=str(tmp_path))))
    assert "no network 'nope'" in missing.msg


def test_a_nad_without_config_is_the_confdir_file_of_its_name(tmp_path):
    (tmp_path / "10-net1.conf").write_text(json.dumps({"cniVersion": "0.3.1", "name": "net1", "type": "mynet"}))
    api = Api(nad("net1"))
    ds = resolve(netconf(confDir=str(tmp_path)), pod({NETWORKS: "net1"}), api)
    assert summary(ds)[1] == ("default/net1", "net1", False, "mynet")
    garbage = Api(nad("net9"))
    assert "no network named 'net9'" in error_of(lambda: resolve(netconf(confDir=str(tmp_path)),
                                                               pod({NETWORKS: "net9"}), garbage)).msg


def test_namespace_isolation():
    api = Api(nad("net1", ns="kube-system", config={"type": "a"}), nad("mine", ns="test", config={"type": "b"}))
    conf = netconf(namespaceIsolation=True)
    err = error_of(lambda: resolve(conf, pod({NETWORKS: "kube-system/net1"}, ns="test"), api))
    assert "namespace isolation" in err.msg and "'test'" in err.msg and "'kube-system'" in err.msg
    assert api.asked == [], "refused before the NAD is read"
    assert len(resolve(conf, pod({NETWORKS: "mine"}, ns="test"), api)) == 2
    allowed = netconf(namespaceIsolation=True, globalNamespaces="kube-system,donkey-kong")
    assert len(resolve(allowed, pod({NETWORKS: "kube-system/net1"}, ns="test"), api)) == 2


def test_default_route_plans_and_refuses_ecmp():
    api = Api(nad("a", config={"type": "macvlan"}), nad("b", config={"type": "macvlan"}))
    one = json.dumps([{"name": "a", "default-route": ["10.1.1.254"]}, {"name": "b"}])
    ds = resolve(netconf(), pod({NETWORKS: one}), api)
    assert [(d.gateways, d.filter_families) for d in ds] == [(None, ["4"]), (["10.1.1.254"], ["4"]), (None, ["4"])]
    empty = json.dumps([{"name": "a", "default-route": []}])
    assert [d.filter_families for d in resolve(netconf(), pod({NETWORKS: empty}), api)] == [[], []]
    ecmp = json.dumps([{"name": "a", "default-route": ["10.1.1.254"]}, {"name": "b", "default-route": ["10.2.0.1"]}])
    assert "ECMP" in error_of(lambda: resolve(netconf(), pod({NETWORKS: ecmp}), api)).msg
    dual = json.dumps([{"name": "a", "default-route": ["10.1.1.254"]}, {"name": "b", "default-route": ["fd00::1"]}])
    assert [d.filter_families for d in resolve(netconf(), pod({NETWORKS: dual}), api)][0] == ["4", "6"]


def test_two_networks_asking_for_one_interface_name_are_refused():
    api = Api(nad("a", config={"type": "x"}), nad("b", config={"type": "y"}))
    err = error_of(lambda: resolve(netconf(), pod({NETWORKS: "a@same, b@same"}), api))
    assert "both want interface same" in err.msg


def test_device_ids_from_the_resource_are_taken_in_sorted_order():
    sriov = {"cniVersion": "0.3.1", "plugins": [{"type": "sriov"}, {"type": "tuning"}]}
    api = Api(nad("s1", config=sriov, resource="intel.com/sriov"), nad("s2", config={"type": "sriov"},
                                                                     resource="intel.com/sriov"))
    devices = lambda: {"intel.com/sriov": ["0000:03:02.1", "0000:03:02.0"][::-1]}  # noqa: E731
    _, s1, s2 = resolve(netconf(deviceInfoDir="/d"), pod({NETWORKS: "s1, s2"}), api, devices=devices)
    assert [p["deviceID"] for p in s1.conf["plugins"]] == ["0000:03:02.0", "0000:03:02.0"]
    assert s1.conf["plugins"][1]["pciBusID"] == "0000:03:02.0"
    assert (s2.conf["deviceID"], s2.runtime_config["deviceID"]) == ("0000:03:02.1", "0000:03:02.1")
    assert s2.runtime_config["CNIDeviceInfoFile"] == \
        "/d/cni/default-s2-cid1_net2"
    three = error_of(lambda: resolve(netconf(), pod({NETWORKS: "s1, s2, s1"}), api, devices=devices))
    assert "no more device of resource 'intel.com/sriov'" in three.msg


def test_a_resource_without_a_device_source_is_an_error_naming_it():
    from multus.k8s.devices import allocated

    api = Api(nad("s1", config={"type": "sriov"}, resource="intel.com/sriov"))
    err = error_of(lambda: resolve(netconf(), pod({NETWORKS: "s1"}), api,
                                   devices=lambda: allocated("/nonexistent/checkpoint", "uid-1")))
    assert "no device source" in err.msg and "/nonexistent/checkpoint" in err.msg


def test_nad_allow_list_restricts_tenants_but_not_the_operator():
    api = Api(nad("hd", config={"type": "host-device", "device": "eth1"}),
              nad("mv", config={"type": "macvlan", "ipam": {"type": "dhcp"}}),
              nad("ok", config={"plugins": [{"type": "macvlan", "ipam": {"type": "host-local"}}, {"type": "tuning"}]}))
    conf = netconf(nadAllowedPlugins=["macvlan", "host-local", "tuning"],
                   delegates=[{"type": "host-device", "device": "eth9", "name": "op"}])
    err = error_of(lambda: resolve(conf, pod({NETWORKS: "hd"}), api))
    assert "network default/hd" in err.msg and "'host-device'" in err.msg and "nadAllowedPlugins" in err.msg
    assert "ipam.type 'dhcp'" in error_of(lambda: resolve(conf, pod({NETWORKS: "mv"}), api)).msg
    assert summary(resolve(conf, pod({NETWORKS: "ok"}), api))[0] == ("op", "eth0", True, "host-device")


def test_without_api_a_named_network_is_the_confdir_config_of_that_name(tmp_path):
    (tmp_path / "mv.conf").write_text(json.dumps({"cniVersion": "0.3.1", "name": "macvlan-conf", "type": "macvlan"}))
    ds = resolve(netconf(confDir=str(tmp_path)), pod({NETWORKS: "other-ns/macvlan-conf@m0"}))
    assert summary(ds)[1] == ("other-ns/macvlan-conf", "m0", False, "macvlan")


def test_pod_not_found_gets_the_cluster_network_only():
    api = Api(nad("net1", config={"type": "x"}))
    conf = netconf(delegates=[{"type": "a"}, {"type": "b"}])
    assert len(resolve(conf, pod({NETWORKS: "net1"}), api, cluster_only=True)) == 2
    assert api.asked == []
