import pytest

from multus.cni.errors import INVALID_CONFIG, CniError
from multus.k8s import annotations


def parse(value, ns="podns"):
    return [(s.namespace, s.name, s.interface) for s in annotations.parse(value, ns)]


@pytest.mark.parametrize("value, expected", [
    ("net1", [("podns", "net1", "")]),
    ("default/net1", [("default", "net1", "")]),
    ("net1@my_interface", [("podns", "net1", "my_interface")]),
    ("default/net1@my_interface", [("default", "net1", "my_interface")]),
    (" macvlan-conf , other-ns/sriov-a@fast0 ,", [("podns", "macvlan-conf", ""), ("other-ns", "sriov-a", "fast0")]),
    ("a,a", [("podns", "a", ""), ("podns", "a", "")]),
])
def test_text_form(value, expected):
    assert parse(value) == expected


@pytest.mark.parametrize("value, problem", [
    ("a@b/c@d/e@f", "expected [namespace/]name[@interface]"),
    ("a@b/c@d@e", "expected [namespace/]name[@interface]"),
    ("user@someIP/user@someOtherIP", "expected [namespace/]name[@interface]"),
    ("default/net1@myIfc Name", "whitespace"),
    ("default/net1@very_long_interface_name", "longer than 15"),
    ("Default/net1", "namespace 'Default' is not a DNS-1123 label"),
    ("net_1", "name 'net_1' is not a DNS-1123 label"),
    ("ns/", "name '' is not a DNS-1123 label"),
])
def test_text_form_errors_name_the_item(value, problem):
    with pytest.raises(CniError) as info:
        annotations.parse(value, "podns")
    assert info.value.code == INVALID_CONFIG
    assert annotations.NETWORKS in info.value.msg and problem in info.value.msg


def test_json_form_keeps_every_request():
    [s] = annotations.parse('[{"name":"mv","namespace":"infra","interface":"m1","ips":["10.1.1.21/24","fd00::5"],'
                            '"mac":"c2:11:22:33:44:66","default-route":["10.1.1.254"],"cni-args":{"a":"b"},'
                            '"portMappings":[{"hostPort":80}],"bandwidth":{"ingressRate":1},"deviceID":"0000:01:00.1",'
                            '"macRequest":"ignored"}]', "podns")
    assert (s.namespace, s.name, s.interface, s.ips, s.mac, s.default_route, s.cni_args, s.port_mappings,
            s.bandwidth, s.device_id) == ("infra", "mv", "m1", ["10.1.1.21/24", "fd00::5"], "c2:11:22:33:44:66",
                                          ["10.1.1.254"], {"a": "b"}, [{"hostPort": 80}], {"ingressRate": 1},
                                          "0000:01:00.1")


def test_json_form_defaults_namespace_and_accepts_interface_request_and_empty_default_route():
    [s] = annotations.parse('[{"name":"mv","interfaceRequest":"old0","default-route":[]}]', "podns")
    assert (s.namespace, s.interface, s.default_route) == ("podns", "old0", [])


@pytest.mark.parametrize("value, problem", [
    ("[adsfasdfasdfasf]", "not valid JSON"),
    ('{"name":"x"}', "must be a list of objects"),
    ('["x"]', "must be an object"),
    ('[{"namespace":"a"}]', "'name' must be a non-empty string"),
    ('[{"name":"x","ips":["10.1.1.300/24"]}]', "is not an IP address or CIDR"),
    ('[{"name":"x","ips":"10.1.1.1"}]', "'ips' must be a list of strings"),
    ('[{"name":"x","mac":"zz:11:22:33:44:55"}]', "is not a MAC address"),
    ('[{"name":"x","default-route":["not-an-ip"]}]', "is not an IP address"),
    ('[{"name":"x","default-route":"10.0.0.1"}]', "must be a list of gateway addresses"),
    ('[{"name":"x","cni-args":[1]}]', "'cni-args' must be a JSON object"),
    ('[{"name":"x","portMappings":{}}]', "'portMappings' must be a JSON list"),
    ('[{"name":"x","interface":"a b"}]', "whitespace"),
    ('[{"name":"x","infiniband-guid":"nope"}]', "not an InfiniBand GUID"),
    ('[{"name":"../../pods/victim"}]', "'name' '../../pods/victim' is not a DNS-1123 label"),
    ('[{"name":"x HTTP/1.1\\r\\nX-Injected: 1"}]', "is not a DNS-1123 label"),
    ('[{"name":"x","namespace":"kube-system/x"}]', "'namespace' 'kube-system/x' is not a DNS-1123 label"),
])
def test_json_form_errors(value, problem):
    with pytest.raises(CniError) as info:
        annotations.parse(value, "podns")
    assert info.value.code == INVALID_CONFIG and problem in info.value.msg


def test_default_network_is_one_network_in_the_multus_namespace():
    assert annotations.default_network({}, "kube-system") is None
    s = annotations.default_network({annotations.DEFAULT_NETWORK: "net1"}, "kube-system")
    assert (s.namespace, s.name) == ("kube-system", "net1")
    with pytest.raises(CniError, match="exactly one"):
        annotations.default_network({annotations.DEFAULT_NETWORK: "a,b"}, "kube-system")


def test_static_pods_are_recognised():
    assert annotations.is_static_pod({"kubernetes.io/config.source": "file"})
    assert annotations.is_static_pod({"kubernetes.io/config.mirror": "abc"})
    assert not annotations.is_static_pod({"kubernetes.io/config.source": "api"})
    assert not annotations.is_static_pod({})
