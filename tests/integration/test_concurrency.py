"""Fifty pods added and deleted in parallel on shared bridge and macvlan networks."""

from concurrent.futures import ThreadPoolExecutor

from tests.conftest import addrs_in, attach_env, links_in, reservations, run_binary

PODS = 50


def test_fifty_pods_in_parallel_get_distinct_addresses_and_leave_nothing(netns_factory, networks):
    conf = networks.multus(networks.bridge("10.251.0.0/24"), networks.macvlan("10.251.1.0/24"))
    pods = [netns_factory() for _ in range(PODS)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        added = list(pool.map(lambda ns: run_binary("ADD", conf, **attach_env(ns)), pods))
    assert [a.code for a in added] == [0] * PODS, [a for a in added if a.code][:3]
    eth0 = [addrs_in(ns)["eth0"][0] for ns in pods]
    net1 = [addrs_in(ns)["net1"][0] for ns in pods]
    assert len(set(eth0)) == PODS and len(set(net1)) == PODS
    assert len(reservations(networks.ipam_dir)) == 2 * PODS
    assert len(list((networks.state_dir / "attachments").iterdir())) == PODS

    # Every DEL at once.
    with ThreadPoolExecutor(max_workers=8) as pool:
        deleted = list(pool.map(lambda ns: run_binary("DEL", conf, **attach_env(ns)), pods))
    assert [d.code for d in deleted] == [0] * PODS
    assert all(links_in(ns) == ["lo"] for ns in pods)
    assert reservations(networks.ipam_dir) == []
    assert not list((networks.state_dir / "attachments").iterdir())
    assert not list((networks.state_dir / "locks").iterdir())


def test_add_and_del_of_one_container_are_serialized(netns, networks):
    conf = networks.multus(networks.bridge(), networks.macvlan())
    env = attach_env(netns)
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lambda i: run_binary("ADD" if i % 2 == 0 else "DEL", conf, **env), range(6)))
    assert all(o.code == 0 or "already has a multus attachment" in o.json["msg"] for o in outcomes), outcomes
    # Whatever the interleaving, the container has either one whole attachment or none.
    state = list((networks.state_dir / "attachments").rglob("*.json"))
    if state:
        assert set(links_in(netns)) == {"lo", "eth0", "net1"} and len(reservations(networks.ipam_dir)) == 2
    else:
        assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []
    assert run_binary("DEL", conf, **env).code == 0
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []
