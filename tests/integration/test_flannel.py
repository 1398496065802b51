"""The built-in flannel helper with a real subnet.env, bridge and host-local."""

import json

from tests.conftest import FAKE_PLUGINS, addrs_in, attach_env, default_route_dev, links_in, reservations, tag
from tests.hostns import SriovHost

SUBNET_ENV = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"


def flannel_conf(tmp_path, **extra):
    (tmp_path / "subnet.env").write_text(SUBNET_ENV)
    return {"cniVersion": "1.0.0", "name": f"fl-{tag()}", "type": "flannel",
            "subnetFile": str(tmp_path / "subnet.env"), "dataDir": str(tmp_path / "flannel"),
            "delegate": {"bridge": "cni0", "isDefaultGateway": True},
            "ipam": {"dataDir": str(tmp_path / "ipam")}, **extra}


def test_flannel_through_multus(tmp_path, netns):
    host = SriovHost(tmp_path, {})  # a scratch host namespace, so cni0 is made there
    try:
        inner = flannel_conf(tmp_path)
        conf = {"cniVersion": "1.0.0", "name": "multus-fl", "type": "multus", "cniDir": str(tmp_path / "state"),
                "delegates": [inner]}
        env = attach_env(netns)
        added = host.run("multus", "ADD", conf, **env)
        assert added.code == 0, added
        assert addrs_in(netns)["eth0"][0].startswith("10.244.7.")
        assert default_route_dev(netns) == "eth0"
        [saved] = (tmp_path / "flannel").iterdir()
        assert saved.name == f"{env['CNI_CONTAINERID']}-eth0"
        assert json.loads(saved.read_text()) == {
            "name": inner["name"], "type": "bridge", "bridge": "cni0", "isDefaultGateway": True, "mtu": 1450,
            "ipMasq": False, "isGateway": True, "cniVersion": "1.0.0",
            "ipam": {"dataDir": str(tmp_path / "ipam"), "type": "host-local",
                     "ranges": [[{"subnet": "10.244.7.0/24"}]], "routes": [{"dst": "10.244.0.0/16"}]}}
        assert host.run("multus", "CHECK", conf, **env).code == 0
        deleted = host.run("multus", "DEL", conf, **env)
        assert deleted.code == 0, deleted
        assert links_in(netns) == ["lo"] and reservations(tmp_path / "ipam") == []
        assert not list((tmp_path / "flannel").iterdir())
        assert host.run("flannel", "DEL", inner, **env).code == 0  # nothing saved: still success
    finally:
        host.close()


def test_missing_and_garbage_subnet_env_are_clear_errors(tmp_path, netns):
    host = SriovHost(tmp_path, {})
    try:
        conf = flannel_conf(tmp_path)
        (tmp_path / "subnet.env").unlink()
        missing = host.run("flannel", "ADD", conf, **attach_env(netns))
        assert (missing.code, missing.json["code"]) == (1, 11)
        assert str(tmp_path / "subnet.env") in missing.json["msg"]
        (tmp_path / "subnet.env").write_text("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=oops\n")
        bad = host.run("flannel", "ADD", conf, **attach_env(netns))
        assert bad.json["code"] == 7 and "FLANNEL_MTU" in bad.json["msg"]
        assert links_in(netns) == ["lo"]
    finally:
        host.close()


def test_an_installed_binary_wins_over_the_builtin(tmp_path, netns, recorder):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "flannel").symlink_to(FAKE_PLUGINS / "recorder")
    conf = {"cniVersion": "1.0.0", "name": "m", "type": "multus", "cniDir": str(tmp_path / "state"),
            "binDir": str(plugins), "delegates": [{"type": "flannel"}]}
    from tests.conftest import run_binary

    assert run_binary("ADD", conf, **attach_env(netns)).code == 0
    assert [c["env"]["CNI_COMMAND"] for c in recorder()] == ["ADD"]
    assert run_binary("DEL", conf, **attach_env(netns)).code == 0
