"""The original Multus README config, run through build/multus with no sriov or flannel binary installed.

Only the PF names are the test's (veth stand-ins in a scratch host namespace, with a fake sysfs
tree and PF table); everything else, defaults included, is as written.
"""

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, default_route_dev, links_in, tag
from tests.hostns import SriovHost, netns_path, pod_links

SUBNET_ENV = Path("/run/flannel/subnet.env")
STATE_DIRS = [Path("/var/lib/cni/multus"), Path("/var/lib/cni/sriov"), Path("/var/lib/cni/flannel"),
              Path("/var/lib/cni/networks/minion1-multus-demo-network")]


@pytest.fixture
def flannel_subnet_env(tmp_path):
    """flanneld's file at its default path; a pre-existing one is put back afterwards."""
    backup = tmp_path / "subnet.env.orig"
    if SUBNET_ENV.exists():
        shutil.copy2(SUBNET_ENV, backup)
    made_dir = not SUBNET_ENV.parent.exists()
    SUBNET_ENV.parent.mkdir(parents=True, exist_ok=True)
    SUBNET_ENV.write_text("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n"
                          "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")
    created = [d for d in STATE_DIRS if not d.exists()]
    yield
    if backup.exists():
        shutil.copy2(backup, SUBNET_ENV)
    else:
        SUBNET_ENV.unlink()
    if made_dir:
        SUBNET_ENV.parent.rmdir()
    for d in created:
        shutil.rmtree(d, ignore_errors=True)


def test_seed_config_end_to_end(tmp_path, netns, flannel_subnet_env):
    host = SriovHost(tmp_path, {"enp12s0f0": 2, "enp12s0f1": 2})
    try:
        conf = json.loads((REPO / "examples" / "seed-sriov-flannel.conf").read_text())
        before = host.links()
        cid = f"seed-{tag()}"
        env = {"CNI_CONTAINERID": cid, "CNI_NETNS": netns_path(netns), "CNI_IFNAME": "eth0",
               "CNI_PATH": "/usr/lib/cni", "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=seed"}
        added = host.run("multus", "ADD", conf, **env)
        assert added.code == 0, added
        # The master (flannel → bridge) answers, in the config's implicit 0.1.0 shape.
        assert added.json["cniVersion"] == "0.1.0" and added.json["ip4"]["ip"].startswith("10.244.1.")
        pod = pod_links(netns)
        assert set(pod) == {"lo", "eth0", "north0", "south0"}
        assert pod["eth0"]["addrs"][0].startswith("10.244.1.")
        north = int(pod["north0"]["addrs"][0].split("/")[0].rsplit(".", 1)[1])
        south = int(pod["south0"]["addrs"][0].split("/")[0].rsplit(".", 1)[1])
        assert 131 <= north <= 190 and 100 <= south <= 130
        assert int(pod["north0"]["mac"].split(":")[0], 16) & 0x03 == 0x02
        assert default_route_dev(netns) == "eth0"  # the sriov default routes lost: first one wins
        assert host.calls() == [f"set_vf enp12s0f0 0 mac={pod['north0']['mac']}"]

        deleted = host.run("multus", "DEL", conf, **env)
        assert deleted.code == 0, deleted
        assert links_in(netns) == ["lo"]
        after = {k: v for k, v in host.links().items() if k != "cni0"}  # bridge plugins keep their bridge
        assert after == before  # VFs back under their names and MACs
        assert not (Path("/var/lib/cni/multus/attachments") / cid).exists()
        assert not list(Path("/var/lib/cni/sriov").glob(f"{cid}-*"))
        assert not list(Path("/var/lib/cni/flannel").glob(f"{cid}-*"))
        leftover = [p.name for p in STATE_DIRS[3].glob("*") if p.name[0].isdigit()]
        assert leftover == []
        assert host.run("multus", "DEL", conf, **env).code == 0
    finally:
        host.close()
