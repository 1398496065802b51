"""build/multus as the network plugin of real Podman containers."""

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
    # Podman picks which network is eth0; each master and its macvlan come from the same network.
    base = {name: addrs[name].rsplit(".", 2)[0] for name in ("eth0", "net1", "eth1", "net2")}
    assert base["eth0"] == base["net1"] and base["eth1"] == base["net2"]
    assert {base["eth0"], base["eth1"]} == {"10.254", "10.250"}
    assert addrs["eth0"].startswith(base["eth0"] + ".0.") and addrs["net1"].startswith(base["eth0"] + ".1.")
    assert len(reservations(podman.ipam)) == 4
    assert sorted(p.name for p in (podman.state / "attachments").rglob("*.json")) == ["eth0.json", "eth1.json"]
    podman("rm", "-f", "-t", "0", container)
    assert_nothing_left(podman)
