"""build/multus as the network plugin of real Podman containers."""

import json

from tests.conftest import reservations


def in_subnet(cidr: str, prefix: str) -> bool:
    return cidr.startswith(prefix)


def assert_nothing_left(podman) -> None:
    assert reservations(podman.ipam) == []
    assert not list((podman.state / "attachments").iterdir())


def test_container_gets_eth0_and_net1_and_removal_cleans_up(podman):
    net = podman.multus_network(f"mn{id(podman) % 10000}", "10.253")
    container = podman.run_detached(net)
    addrs = podman.addresses(container)
    assert set(addrs) == {"lo", "eth0", "net1"}, addrs
    assert in_subnet(addrs["eth0"], "10.253.0.") and in_subnet(addrs["net1"], "10.253.1.")
    assert len(reservations(podman.ipam)) == 2
    routes = podman("exec", container, "ip", "route").stdout
    assert "default via 10.253.0.1 dev eth0" in routes
    podman("rm", "-f", "-t", "0", container)
    assert_nothing_left(podman)


def test_two_multus_networks_in_one_container(podman):
    first = podman.multus_network("mnfirst", "10.254")
    second = podman.multus_network("mnsecond", "10.250")
    container = podman.run_detached(first, second)
    addrs = podman.addresses(container)
    # Podman attaches the networks as eth0 and eth1; multus keeps their secondaries apart.
    assert set(addrs) == {"lo", "eth0", "net1", "eth1", "net2"}, addrs
    # Podman picks the ADD order; multus records which secondary belongs to which attachment.
    pairs = {}
    for state in (podman.state / "attachments").rglob("*.json"):
        master, secondary = (d["ifname"] for d in json.loads(state.read_text())["delegates"])
        assert master == state.stem
        pairs[master] = secondary
    assert sorted(pairs) == ["eth0", "eth1"] and sorted(pairs.values()) == ["net1", "net2"]
    bases = set()
    for master, secondary in pairs.items():
        base = addrs[master].rsplit(".", 2)[0]
        assert addrs[master].startswith(base + ".0.") and addrs[secondary].startswith(base + ".1.")
        bases.add(base)
    assert bases == {"10.254", "10.250"}
    assert len(reservations(podman.ipam)) == 4
    assert sorted(p.name for p in (podman.state / "attachments").rglob("*.json")) == ["eth0.json", "eth1.json"]
    podman("rm", "-f", "-t", "0", container)
    assert_nothing_left(podman)


def test_the_runtimes_address_and_mac_go_to_the_master_only(podman):
    net = podman.multus_network(f"mnip{id(podman) % 10000}", "10.253")
    name = "me2e-ip"
    podman.containers.append(name)
    podman("run", "-d", "--name", name, "--network", net, "--ip", "10.253.0.50", "--mac-address",
           "02:00:00:00:00:50", "localhost/multus-e2e:latest", "sleep", "300")
    addrs = podman.addresses(name)
    assert addrs["eth0"] == "10.253.0.50/24"
    assert addrs["net1"].startswith("10.253.1.")  # the macvlan kept its own range
    links = podman("exec", name, "ip", "-o", "link").stdout
    assert "02:00:00:00:00:50" in next(line for line in links.splitlines() if " eth0" in line)
    podman("rm", "-f", "-t", "0", name)
    assert_nothing_left(podman)
