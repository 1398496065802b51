import pytest

from multus.cni.errors import INVALID_CONFIG, CniError
from multus.helpers.flannel import build_delegate, parse_subnet_env

GOOD = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"


def test_parse_good_file_masks_subnet():
    env = parse_subnet_env(GOOD)
    assert (env.networks, env.subnets, env.mtu, env.ipmasq) == (["10.244.0.0/16"], ["10.244.1.0/24"], 1450, True)


def test_parse_dual_stack_lists_and_duplicates():
    env = parse_subnet_env("FLANNEL_NETWORK=10.1.0.0/16,10.2.0.0/16,10.1.0.0/16\nFLANNEL_SUBNET=10.1.3.1/24\n"
                           "FLANNEL_IPV6_NETWORK=fd00::/48\nFLANNEL_IPV6_SUBNET=fd00:0:0:3::1/64\n"
                           "FLANNEL_MTU=1400\nFLANNEL_IPMASQ=false\nOTHER=1\n")
    assert env.networks == ["10.1.0.0/16", "10.2.0.0/16", "fd00::/48"]
    assert env.subnets == ["10.1.3.0/24", "fd00:0:0:3::/64"]
    assert env.ipmasq is False


@pytest.mark.parametrize("text, fragment", [
    ("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n", "is missing FLANNEL_MTU, FLANNEL_IPMASQ"),
    ("", "is missing FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ"),
    ("\x00garbage\n\n###", "is missing FLANNEL_NETWORK"),
    (GOOD.replace("10.244.1.1/24", "banana"), "FLANNEL_SUBNET 'banana' is not a CIDR"),
    (GOOD.replace("1450", "big"), "FLANNEL_MTU 'big' is not a number"),
    (GOOD + "FLANNEL_MTU\n", "FLANNEL_MTU has no value"),
])
def test_parse_errors_name_file_and_key(text, fragment):
    with pytest.raises(CniError) as info:
        parse_subnet_env(text, "/run/flannel/subnet.env")
    assert info.value.code == INVALID_CONFIG
    assert "/run/flannel/subnet.env" in info.value.msg and fragment in info.value.msg


def test_seed_delegate_matches_flannel():
    conf = {"name": "minion1-multus-demo-network", "type": "flannel", "delegate": {"isDefaultGateway": True}}
    assert build_delegate(conf, parse_subnet_env(GOOD)) == {
        "name": "minion1-multus-demo-network", "type": "bridge", "mtu": 1450, "ipMasq": False,
        "isGateway": True, "isDefaultGateway": True,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.1.0/24"}]],
                 "routes": [{"dst": "10.244.0.0/16"}]}}


def test_overrides_win_and_outer_ipam_is_the_start():
    conf = {"name": "n", "cniVersion": "0.3.1", "delegate": {"bridge": "kbr0", "mtu": 1300, "ipMasq": True,
                                                             "hairpinMode": True},
            "ipam": {"dataDir": "/tmp/x", "routes": [{"dst": "192.168.0.0/16"}]},
            "runtimeConfig": {"portMappings": []}}
    out = build_delegate(conf, parse_subnet_env(GOOD))
    assert (out["bridge"], out["mtu"], out["ipMasq"], out["hairpinMode"], out["cniVersion"]) == (
        "kbr0", 1300, True, True, "0.3.1")
    assert out["ipam"] == {"dataDir": "/tmp/x", "type": "host-local", "ranges": [[{"subnet": "10.244.1.0/24"}]],
                           "routes": [{"dst": "192.168.0.0/16"}, {"dst": "10.244.0.0/16"}]}
    assert out["runtimeConfig"] == {"portMappings": []}


def test_non_bridge_delegate_gets_no_is_gateway():
    assert "isGateway" not in build_delegate({"name": "n", "delegate": {"type": "ptp"}}, parse_subnet_env(GOOD))


@pytest.mark.parametrize("delegate, fragment", [
    ({"name": "x"}, "must not set 'name'"), ({"ipam": {}}, "must not set 'ipam'"), ({"type": 1}, "must be a string"),
])
def test_forbidden_delegate_keys(delegate, fragment):
    with pytest.raises(CniError, match=fragment):
        build_delegate({"name": "n", "delegate": delegate}, parse_subnet_env(GOOD))
