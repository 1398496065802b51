import json

from multus.cni.runtime import CNIConfig, Network, RuntimeConf, filter_capabilities


def rt(capability_args=None):
    return RuntimeConf("c", "/n", "eth0", "", capability_args or {})


def test_capabilities_match_case_insensitively_under_plugin_spelling():
    caps = {"portMappings": True, "bandwidth": False}
    args = {"PortMappings": [{"hostPort": 1}], "bandwidth": {"x": 1}, "ips": ["1.2.3.4"]}
    assert filter_capabilities(caps, args) == {"portMappings": [{"hostPort": 1}]}


def test_conflist_plugins_get_list_name_version_and_prev_result():
    net = Network({"name": "l", "cniVersion": "1.0.0", "plugins": [{"type": "a", "name": "ignored"}, {"type": "b"}]})
    stdin = json.loads(net.plugin_stdin(net.plugins[1], rt(), {"cniVersion": "1.0.0"}))
    assert stdin == {"type": "b", "name": "l", "cniVersion": "1.0.0", "prevResult": {"cniVersion": "1.0.0"}}


def test_runtime_config_only_when_declared():
    net = Network({"name": "s", "cniVersion": "1.0.0", "type": "a", "capabilities": {"mac": True},
                   "runtimeConfig": {"stale": 1}})
    stdin = json.loads(net.plugin_stdin(net.plugins[0], rt({"mac": "02:00:00:00:00:01", "ips": []}), None))
    assert stdin["runtimeConfig"] == {"mac": "02:00:00:00:00:01"}


def test_child_env_replaces_every_cni_variable():
    cni = CNIConfig(["/p"], {"PATH": "/bin", "CNI_JUNK": "x"})
    env = cni.env("DEL", rt())
    assert "CNI_JUNK" not in env and env["CNI_COMMAND"] == "DEL" and env["CNI_IFNAME"] == "eth0"
    assert env["CNI_PATH"] == "/p" and env["PATH"] == "/bin"
    assert "CNI_CONTAINERID" not in cni.env("GC", rt())


def test_check_needs_0_4_0():
    assert not Network({"type": "a", "cniVersion": "0.3.1"}).can_check()
    assert Network({"type": "a", "cniVersion": "0.4.0"}).can_check()
    assert not Network({"type": "a", "cniVersion": "1.0.0", "disableCheck": True}).can_check()
