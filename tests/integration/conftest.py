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
