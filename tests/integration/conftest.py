import json
import os

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.netns)


@pytest.fixture(autouse=True)
def _needs_root_and_plugins():
    assert os.geteuid() == 0, "integration tests create namespaces: run them as root"
    assert os.path.exists("/usr/lib/cni/bridge"), "install containernetworking-plugins (./build.sh deps)"


@pytest.fixture
def sriov_host(tmp_path):
    from tests.hostns import SriovHost

    hosts = []

    def make(**pfs: int):
        host = SriovHost(tmp_path, pfs)
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.close()


@pytest.fixture(scope="session", autouse=True)
def _current_build():
    from tests.conftest import require_current_build

    require_current_build()


@pytest.fixture
def cluster(networks, fake_api, tmp_path, veth):
    """A Kubernetes node: the bridge cluster network in a file, a kubeconfig for the fake API server."""

    class Cluster:
        def __init__(self):
            self.bridge_conf = dict(networks.bridge("10.252.0.0/24"), cniVersion="0.3.1")
            self.cluster_file = tmp_path / "10-cluster.conf"
            self.cluster_file.write_text(json.dumps(self.bridge_conf))
            self.master = veth()
            self.api = None

        def start(self, *objects, **kw):
            self.api = fake_api(*objects, **kw)
            return self.api

        def macvlan(self, subnet="10.252.1.0/24", **extra):
            return {"cniVersion": "0.3.1", "type": "macvlan", "master": self.master, "mode": "bridge",
                    "ipam": networks.ipam(subnet, **extra.pop("ipam", {})), **extra}

        def ptp(self, subnet="10.252.2.0/24"):
            return {"cniVersion": "0.3.1", "type": "ptp", "ipam": networks.ipam(subnet)}

        def multus(self, kubeconfig=None, **extra):
            conf = {"cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus",
                    "clusterNetwork": str(self.cluster_file), "cniDir": str(networks.state_dir), **extra}
            if self.api is not None and kubeconfig is not False:
                conf["kubeconfig"] = str(kubeconfig or self.api.kubeconfig())
            return conf

    return Cluster()
