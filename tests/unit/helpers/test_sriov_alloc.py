"""VF selection against a fake sysfs tree: free, used elsewhere, allocated, stale."""

import pytest

from multus.cni.errors import CniError
from multus.helpers.sriov.alloc import SriovStore
from multus.helpers.sriov.config import SriovConf
from tests.sriov_fake import make_tree

# "lo" exists in every namespace, so it stands for a VF netdev still in the host; the other name
# does not exist here, like a VF that sits in some pod's namespace.
IN_USE_ELSEWHERE, IN_HOST = "vf-gone0", "lo"


def setup(tmp_path):
    addresses = make_tree(tmp_path / "sys", {"pf0": [IN_USE_ELSEWHERE, IN_HOST]})
    store = SriovStore(str(tmp_path / "state"))
    return addresses, store, SriovConf({"if0": "pf0", "cniDir": str(tmp_path / "state")}, "net1")


def test_first_vf_whose_netdev_is_here_is_taken_and_recorded(tmp_path):
    addresses, store, conf = setup(tmp_path)
    vf = store.allocate(conf, str(tmp_path / "sys"), "/proc/self/ns/net")
    assert (vf.index, vf.netdevs) == (1, [IN_HOST])
    assert store.owner(addresses[IN_HOST]) == "/proc/self/ns/net"


def test_allocated_vf_is_skipped_until_its_namespace_is_gone(tmp_path):
    addresses, store, conf = setup(tmp_path)
    store.allocate(conf, str(tmp_path / "sys"), "/proc/self/ns/net")
    with pytest.raises(CniError, match="no free VF on PF pf0"):
        store.allocate(conf, str(tmp_path / "sys"), "/proc/self/ns/net")
    (tmp_path / "state" / "pci" / addresses[IN_HOST]).write_text("/var/run/netns/gone-long-ago")
    assert store.owner(addresses[IN_HOST]) is None
    assert store.allocate(conf, str(tmp_path / "sys"), "/proc/self/ns/net").index == 1


def test_device_id_dialect_names_the_problem(tmp_path):
    addresses, store, _ = setup(tmp_path)
    conf = SriovConf({"deviceID": addresses[IN_USE_ELSEWHERE], "cniDir": str(tmp_path / "state")}, "net1")
    with pytest.raises(CniError, match="has no kernel netdev in this namespace"):
        store.allocate(conf, str(tmp_path / "sys"), "/proc/self/ns/net")
