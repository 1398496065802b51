"""Every example in examples/ runs as written through build/multus, with only host names localized."""

import json

import pytest

from tests.conftest import REPO, addrs_in, attach_env, default_route_dev, links_in, reservations, run_binary, tag

EXAMPLES = REPO / "examples"


def localize(conf: dict, networks, veth, link_cleanup) -> dict:
    """Swap the host's interface names, bridge names and state paths for the test's own."""
    conf = json.loads(json.dumps(conf))
    conf["cniDir"] = str(networks.state_dir)
    for delegate in conf["delegates"]:
        if delegate["type"] == "macvlan":
            delegate["master"] = veth()
        if delegate["type"] == "bridge":
            delegate["bridge"] = f"eb{tag()}"
            link_cleanup.append(delegate["bridge"])
        delegate["ipam"]["dataDir"] = str(networks.ipam_dir)
    return conf


def run_cycle(conf, netns, networks, expect_version):
    env = attach_env(netns)
    added = run_binary("ADD", conf, **env)
    assert added.code == 0, added
    assert added.json["cniVersion"] == expect_version
    addrs = addrs_in(netns)
    assert set(addrs) == {"lo", "eth0", "net1", "net2"}
    assert all(addrs[name] for name in ("eth0", "net1", "net2"))
    assert default_route_dev(netns) == "eth0"
    deleted = run_binary("DEL", conf, **env)
    assert deleted.code == 0, deleted
    assert links_in(netns) == ["lo"]
    assert reservations(networks.ipam_dir) == []
    return added


def test_basic_example(netns, networks, veth, link_cleanup):
    conf = localize(json.loads((EXAMPLES / "basic.conf").read_text()), networks, veth, link_cleanup)
    run_cycle(conf, netns, networks, "1.0.0")


def test_classic_multus_readme_shape(netns, networks, veth, link_cleanup):
    """No names, no cniVersion, master listed last: the original README's shape."""
    raw = json.loads((EXAMPLES / "classic-local.conf").read_text())
    assert "cniVersion" not in raw and all("name" not in d for d in raw["delegates"])
    conf = localize(raw, networks, veth, link_cleanup)
    added = run_cycle(conf, netns, networks, "0.1.0")
    assert added.json["ip4"]["ip"].startswith("10.244.1.")  # the master (bridge) answered, in 0.1.0 shape


@pytest.mark.parametrize("name", ["podman-multus.conflist"])
def test_conflist_example_plugin_config(name, netns, networks, veth, link_cleanup):
    conflist = json.loads((EXAMPLES / name).read_text())
    plugin = dict(conflist["plugins"][0], name=conflist["name"], cniVersion=conflist["cniVersion"])
    plugin.pop("logFile")
    conf = localize(plugin, networks, veth, link_cleanup)
    env = attach_env(netns)
    assert run_binary("ADD", conf, **env).code == 0
    assert set(links_in(netns)) == {"lo", "eth0", "net1"}
    assert run_binary("DEL", conf, **env).code == 0
    assert links_in(netns) == ["lo"]


def test_kubernetes_examples_as_written(netns, networks, veth, link_cleanup, fake_api, tmp_path):
    """examples/kubernetes: the multus config, cluster network, two NADs and the pod, through the fake API."""
    import yaml

    k8s = EXAMPLES / "kubernetes"
    bridge = json.loads((k8s / "10-bridge.conf").read_text())
    bridge["bridge"] = f"eb{tag()}"
    link_cleanup.append(bridge["bridge"])
    bridge["ipam"]["dataDir"] = str(networks.ipam_dir)
    cluster = tmp_path / "10-bridge.conf"
    cluster.write_text(json.dumps(bridge))
    objects = []
    for name in ("nad-macvlan.yaml", "nad-ptp-infra.yaml", "pod-two-networks.yaml"):
        obj = yaml.safe_load((k8s / name).read_text())
        if obj["kind"] == "NetworkAttachmentDefinition":
            config = json.loads(obj["spec"]["config"])
            for plugin in config.get("plugins", [config]):
                if plugin["type"] == "macvlan":
                    plugin["master"] = veth()
                if "ipam" in plugin:
                    plugin["ipam"]["dataDir"] = str(networks.ipam_dir)
            obj["spec"]["config"] = json.dumps(config)
        objects.append(obj)
    api = fake_api(*objects)
    conf = json.loads((k8s / "00-multus.conf").read_text())
    conf.update(kubeconfig=str(api.kubeconfig()), clusterNetwork=str(cluster), cniDir=str(networks.state_dir),
                readinessindicatorfile=str(cluster))
    env = {**attach_env(netns), "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=two-networks"}
    added = run_binary("ADD", conf, **env)
    assert added.code == 0, added
    addrs = addrs_in(netns)
    assert set(addrs) == {"lo", "eth0", "net1", "stor0"}
    assert addrs["net1"] == ["10.10.0.5/24"] and addrs["stor0"][0].startswith("10.20.0.")
    assert default_route_dev(netns) == "net1"
    assert [(s["name"], s["interface"]) for s in api.network_status("two-networks")] == [
        ("cbr0", "eth0"), ("default/macvlan-conf", "net1"), ("infra/storage-net", "stor0")]
    assert run_binary("DEL", conf, **env).code == 0
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []
