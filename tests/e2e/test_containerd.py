"""build/multus as containerd 1.6's CNI plugin, with pods run over CRI as a kubelet does.

With a kubeconfig for the fake API server: NADs and network-status through the API. Without
one: the pod's annotations from containerd's runtimeConfig and networks from confDir.
"""

import json
import shutil

import pytest

from tests.conftest import BINARY, ip, reservations, tag
from tests.daemonproc import watching
from tests.fakeapi import nad, pod

NETWORKS = "k8s.v1.cni.cncf.io/networks"


def links(netns_path):
    name = netns_path.rsplit("/", 1)[-1]
    return {link["ifname"]: [a["local"] for a in link.get("addr_info", []) if a.get("family") == "inet"]
            for link in json.loads(ip("-n", name, "-j", "addr"))}


@pytest.fixture
def node(containerd, tmp_path, link_cleanup):
    """multus installed as containerd's only CNI config, a bridge cluster network, a macvlan master."""

    class Node:
        def __init__(self):
            shutil.copy(BINARY, containerd.bin / "multus")
            self.state = tmp_path / "state"
            self.ipam = tmp_path / "ipam"
            self.bridge = f"cb{tag()}"
            self.master = f"cm{tag()}"
            link_cleanup.extend([self.bridge, self.master])
            ip("link", "add", self.master, "type", "veth", "peer", "name", f"{self.master}p")
            ip("link", "set", self.master, "up")
            self.cluster_file = tmp_path / "10-bridge.conf"
            self.cluster_file.write_text(json.dumps({
                "cniVersion": "0.4.0", "name": "cbr0", "type": "bridge", "bridge": self.bridge, "isGateway": True,
                "ipMasq": False, "ipam": {"type": "host-local", "subnet": "10.253.0.0/24", "dataDir": str(self.ipam),
                                          "routes": [{"dst": "0.0.0.0/0"}]}}))

        def macvlan(self):
            return {"cniVersion": "0.4.0", "type": "macvlan", "master": self.master, "mode": "bridge",
                    "ipam": {"type": "host-local", "subnet": "10.253.1.0/24", "dataDir": str(self.ipam)}}

        def install(self, **multus):
            plugin = {"type": "multus", "clusterNetwork": str(self.cluster_file), "cniDir": str(self.state),
                      "binDir": str(containerd.bin), "logFile": str(tmp_path / "multus.log"), "logLevel": "verbose",
                      "logToStderr": False, **multus}
            conflist = {"cniVersion": "1.0.0", "name": "multus-cni-network", "plugins": [plugin]}
            (containerd.netd / "00-multus.conflist").write_text(json.dumps(conflist))

    yield Node()
    for leftover in containerd.netd.iterdir():
        leftover.unlink()


def assert_nothing_left(node, netns_path):
    assert not ip("netns", "list").count(netns_path.rsplit("/", 1)[-1])
    assert reservations(node.ipam) == []
    assert not [p for p in node.state.rglob("*") if p.is_file()], list(node.state.rglob("*"))
    assert not [line for line in ip("-br", "link").splitlines() if line.startswith("veth") and node.bridge in line]


def test_a_pod_with_a_nad_under_containerd_and_the_api(containerd, node, fake_api):
    api = fake_api(pod("web", namespace="apps", uid="uid-web", annotations={NETWORKS: "mv@data0"}),
                   nad("mv", namespace="apps", config=node.macvlan()))
    node.install(kubeconfig=str(api.kubeconfig()))
    assert containerd.version().runtime_name == "containerd"
    sandbox = containerd.run_pod("web", "apps", "uid-web", {NETWORKS: "mv@data0"})
    netns = containerd.netns_of(sandbox)
    inside = links(netns)
    assert set(inside) == {"lo", "eth0", "data0"}
    assert inside["eth0"][0].startswith("10.253.0.") and inside["data0"][0].startswith("10.253.1.")
    status = api.network_status("web", "apps")
    assert [(s["name"], s["interface"], s["ips"]) for s in status] == [
        ("cbr0", "eth0", inside["eth0"]), ("apps/mv", "data0", inside["data0"])]
    assert [r["method"] for r in api.requests() if "/pods/web" in r["path"]].count("PUT") == 1
    containerd.stop_and_remove(sandbox)
    assert_nothing_left(node, netns)


def test_a_pod_without_any_api_access_uses_containerds_annotations(containerd, node, tmp_path):
    conf_dir = tmp_path / "multus.d"
    conf_dir.mkdir()
    (conf_dir / "mv.conf").write_text(json.dumps(dict(node.macvlan(), name="macvlan-conf")))
    node.install(confDir=str(conf_dir), podAnnotationsFromRuntime=True,
                 capabilities={"io.kubernetes.cri.pod-annotations": True})
    sandbox = containerd.run_pod("db", "apps", "uid-db", {NETWORKS: "macvlan-conf"})
    netns = containerd.netns_of(sandbox)
    assert set(links(netns)) == {"lo", "eth0", "net1"}
    containerd.stop_and_remove(sandbox)
    assert_nothing_left(node, netns)


def test_thick_mode_under_containerd_the_shim_hands_pods_to_the_daemon(containerd, node, fake_api, daemon, tmp_path):
    api = fake_api(pod("api-pod", namespace="apps", uid="uid-t", annotations={NETWORKS: "mv"}),
                   nad("mv", namespace="apps", config=node.macvlan()))
    proc = daemon(kubeconfig=str(api.kubeconfig()), cniDir=str(node.state), binDir=str(containerd.bin))
    shutil.copy(BINARY, containerd.bin / "multus-shim")
    plugin = {"type": "multus-shim", "daemonSocketDir": str(proc.socket_dir), "clusterNetwork": str(node.cluster_file),
              "kubeconfig": str(api.kubeconfig()), "cniDir": str(node.state), "binDir": str(containerd.bin)}
    (containerd.netd / "00-multus.conflist").write_text(json.dumps(
        {"cniVersion": "1.0.0", "name": "multus-cni-network", "plugins": [plugin]}))
    watching(api)  # /readyz turns 200 after the lists; the watches open a moment later
    mark = api.mark()
    sandbox = containerd.run_pod("api-pod", "apps", "uid-t", {NETWORKS: "mv"})
    netns = containerd.netns_of(sandbox)
    assert set(links(netns)) == {"lo", "eth0", "net1"}
    assert [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in api.requests(mark) if "/events" not in r["path"]] == [
        ("PUT", "status")], "the daemon answered from its caches: one API request"
    assert [s["interface"] for s in api.network_status("api-pod", "apps")] == ["eth0", "net1"]
    assert "ADD" in proc.log.read_text()
    containerd.stop_and_remove(sandbox)
    assert_nothing_left(node, netns)
