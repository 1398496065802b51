"""Thick mode: a real `multus daemon` process, the shim, real plugins, the fake API server."""

import json
import os
import signal
import stat
import time
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import addrs_in, ip, links_in, pod_env, reservations, run_inprocess
from tests.daemonproc import wait_for, watching
from tests.fakeapi import nad, pod

NETWORKS = "k8s.v1.cni.cncf.io/networks"


def node(cluster, daemon, networks, *objects, **daemon_keys):
    api = cluster.start(*objects)
    proc = daemon(kubeconfig=str(api.kubeconfig()), cniDir=str(networks.state_dir), **daemon_keys)
    shim = proc.shim_config(clusterNetwork=str(cluster.cluster_file), kubeconfig=str(api.kubeconfig()),
                            cniDir=str(networks.state_dir))
    watching(api)
    return api, proc, shim


def calls(api, since):
    return [(r["method"], "status" if r["path"].endswith("/status") else r["path"].rsplit("/", 1)[-1])
            for r in api.requests(since)]


def test_add_check_del_status_gc_through_the_shim(cluster, daemon, networks, netns):
    api, proc, shim = node(cluster, daemon, networks, pod("p1", annotations={NETWORKS: "mv@data0"}),
                           nad("mv", config=cluster.macvlan()))
    mark = api.mark()
    added = proc.shim("ADD", shim, **pod_env(netns))
    assert added.code == 0, (added, proc.log.read_text()[-2000:])
    assert "in-process" not in added.stderr
    assert set(links_in(netns)) == {"lo", "eth0", "data0"}
    assert added.json["cniVersion"] == "0.3.1" and added.json["ips"][0]["address"] == addrs_in(netns)["eth0"][0]
    assert [c for c in calls(api, mark) if c[1] != "events"] == [("PUT", "status")], "one API request per ADD"
    wait_for(lambda: len([c for c in calls(api, mark) if c[1] == "events"]) == 2)
    assert [s["interface"] for s in api.network_status("p1")] == ["eth0", "data0"]
    assert proc.shim("CHECK", dict(shim, cniVersion="0.4.0"), **pod_env(netns)).code == 0
    status = proc.shim("STATUS", dict(shim, cniVersion="1.1.0"))
    assert status.code == 0, status
    mark = api.mark()
    deleted = proc.shim("DEL", shim, **pod_env(netns))
    assert deleted.code == 0, deleted
    assert api.requests(mark) == [], "no API request per DEL"
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []
    gc = proc.shim("GC", dict(shim, cniVersion="1.1.0", **{"cni.dev/valid-attachments": []}))
    assert gc.code == 0, gc


def test_fifty_pods_in_parallel_through_one_daemon(cluster, daemon, networks, netns_factory):
    pods = [netns_factory() for _ in range(50)]
    api, proc, shim = node(cluster, daemon, networks, *[pod(f"p{i}", annotations={NETWORKS: "mv"})
                                                       for i in range(50)], nad("mv", config=cluster.macvlan()))
    with ThreadPoolExecutor(max_workers=10) as pool:
        added = list(pool.map(lambda i: proc.shim("ADD", shim, **pod_env(pods[i], f"p{i}")), range(50)))
    assert [a.code for a in added] == [0] * 50, [a for a in added if a.code][:2]
    assert not [a for a in added if "in-process" in a.stderr], "every request was served by the daemon"
    assert len({addrs_in(ns)["net1"][0] for ns in pods}) == 50
    with ThreadPoolExecutor(max_workers=10) as pool:
        deleted = list(pool.map(lambda i: proc.shim("DEL", shim, **pod_env(pods[i], f"p{i}")), range(50)))
    assert [d.code for d in deleted] == [0] * 50
    assert all(links_in(ns) == ["lo"] for ns in pods)
    assert reservations(networks.ipam_dir) == []
    assert not [p for p in networks.state_dir.rglob("*") if p.is_file()]


def test_daemon_down_the_shim_attaches_and_detaches_itself(cluster, daemon, networks, netns):
    api, proc, shim = node(cluster, daemon, networks, pod("p1", annotations={NETWORKS: "mv"}),
                           nad("mv", config=cluster.macvlan()))
    assert proc.stop() == 0
    added = proc.shim("ADD", shim, **pod_env(netns))
    assert added.code == 0, added
    assert "running the request in-process" in added.stderr
    assert set(links_in(netns)) == {"lo", "eth0", "net1"}, "the fallback resolved the pod's NAD itself"
    assert [s["interface"] for s in api.network_status("p1")] == ["eth0", "net1"]
    deleted = proc.shim("DEL", shim, **pod_env(netns))
    assert deleted.code == 0 and links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []
    refused = proc.shim("ADD", dict(shim, daemonFallback=False), **pod_env(netns))
    assert (refused.code, refused.json["code"]) == (1, 11) and "daemonFallback is off" in refused.json["msg"]
    assert links_in(netns) == ["lo"]


def test_state_is_shared_between_the_daemon_and_the_fallback(cluster, daemon, networks, netns_factory):
    api, proc, shim = node(cluster, daemon, networks, pod("p1", annotations={NETWORKS: "mv"}),
                           pod("p2", annotations={NETWORKS: "mv"}), nad("mv", config=cluster.macvlan()))
    by_daemon, by_fallback = netns_factory(), netns_factory()
    assert proc.shim("ADD", shim, **pod_env(by_daemon, "p1")).code == 0
    proc.stop()
    assert proc.shim("ADD", shim, **pod_env(by_fallback, "p2")).code == 0
    deleted = proc.shim("DEL", shim, **pod_env(by_daemon, "p1"))
    assert deleted.code == 0 and "in-process" in deleted.stderr and links_in(by_daemon) == ["lo"]
    proc.start()
    deleted = proc.shim("DEL", shim, **pod_env(by_fallback, "p2"))
    assert deleted.code == 0 and "in-process" not in deleted.stderr and links_in(by_fallback) == ["lo"]
    assert reservations(networks.ipam_dir) == []


def test_daemon_killed_mid_add_then_restarted_the_runtimes_del_cleans_up(cluster, daemon, networks, netns, tmp_path):
    marker = tmp_path / "stalled"
    stall = tmp_path / "plugins" / "stall"
    stall.parent.mkdir()
    stall.write_text(f'#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] || exit 0\necho $$ > {marker}\nsleep 300\n')
    stall.chmod(0o755)
    api, proc, shim = node(cluster, daemon, networks, pod("p1", annotations={NETWORKS: "st"}),
                           nad("st", config={"cniVersion": "0.3.1", "type": "stall"}), binDir=str(stall.parent))
    env = dict(pod_env(netns), CNI_PATH="/usr/lib/cni")
    runtime = proc.shim_popen("ADD", dict(shim, binDir=str(stall.parent)), **env)
    wait_for(lambda: marker.exists() and marker.read_text().strip())
    assert "eth0" in links_in(netns)
    proc.stop(signal.SIGKILL)
    runtime.wait(timeout=60)
    answer, stderr = json.loads(runtime.stdout.read()), runtime.stderr.read().decode()
    # The daemon had the request: running it again in-process could attach twice, so: try again later.
    assert runtime.returncode == 1 and answer["code"] == 11, (answer, stderr)
    assert "took the request but did not answer" in answer["msg"] and "in-process" not in stderr
    proc.start()
    deleted = proc.shim("DEL", dict(shim, binDir=str(stall.parent)), **env)
    assert deleted.code == 0, deleted
    stalled = int(marker.read_text())
    assert not os.path.exists(f"/proc/{stalled}") or "zombie" in open(f"/proc/{stalled}/status").read().lower()
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []
    assert not [p for p in networks.state_dir.rglob("*.json")]


def test_sigterm_fails_readyz_at_once_and_lets_in_flight_requests_finish(cluster, daemon, networks, netns_factory,
                                                                         tmp_path):
    netns, other = netns_factory(), netns_factory()
    slow = tmp_path / "plugins" / "slow"
    slow.parent.mkdir()
    slow.write_text('#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] || exit 0\nsleep 2\n'
                    'echo \'{"cniVersion":"0.3.1","interfaces":[{"name":"net1"}]}\'\n')
    slow.chmod(0o755)
    api, proc, shim = node(cluster, daemon, networks, pod("p1", annotations={NETWORKS: "sl"}), pod("p2"),
                           nad("sl", config={"cniVersion": "0.3.1", "type": "slow"}), binDir=str(slow.parent))
    assert proc.get("/readyz")[0] == 200 and proc.get("/healthz")[0] == 200
    runtime = proc.shim_popen("ADD", dict(shim, daemonFallback=False), **pod_env(netns))
    time.sleep(0.8)
    proc.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: proc.get("/readyz")[0] == 500, timeout=5)
    meanwhile = proc.shim("ADD", shim, **pod_env(other, "p2"))  # arrives while p1's ADD drains
    assert meanwhile.code == 0 and "multus daemon is stopping" in meanwhile.stderr, meanwhile
    assert "in-process" in meanwhile.stderr and set(links_in(other)) == {"lo", "eth0"}
    assert runtime.wait(timeout=60) == 0, runtime.stdout.read()
    assert proc.proc.wait(timeout=30) == 0
    assert "eth0" in links_in(netns)
    for ns, name in ((netns, "p1"), (other, "p2")):
        assert run_inprocess("DEL", dict(shim, type="multus", binDir=str(slow.parent)), **pod_env(ns, name)).code == 0


def test_watch_cut_and_resumed_410_relists_and_a_changed_nad_is_used(cluster, daemon, networks, netns_factory):
    api, proc, shim = node(cluster, daemon, networks, pod("p1", annotations={NETWORKS: "mv"}),
                           nad("mv", config=cluster.macvlan("10.252.1.0/24")))
    first, second, third = netns_factory(), netns_factory(), netns_factory()
    assert proc.shim("ADD", shim, **pod_env(first, "p1")).code == 0
    api.delete("NetworkAttachmentDefinition", "mv")
    api.create(nad("mv", config=cluster.macvlan("10.252.7.0/24")))
    api.create(pod("p2", annotations={NETWORKS: "mv"}))
    wait_for(lambda: proc.get("/readyz")[0] == 200)
    api.knobs(end_watches=True)  # the server cuts every watch; the daemon resumes from its resourceVersion
    time.sleep(1)
    mark = api.mark()
    added = proc.shim("ADD", shim, **pod_env(second, "p2"))
    assert added.code == 0 and addrs_in(second)["net1"][0].startswith("10.252.7."), "the changed NAD was used"
    # The ADD's events (sent in the background) land before the history is cut, so that the pods'
    # watch resumes from a resourceVersion the cut history no longer reaches.
    wait_for(lambda: len([c for c in calls(api, mark) if c[1] == "events"]) == 2)
    api.knobs(expire_history=True, end_watches=True)  # resuming now gets 410: the daemon lists again
    api.create(pod("p3", annotations={NETWORKS: "mv"}))
    wait_for(lambda: sum(1 for r in api.requests() if r["path"] == "/api/v1/pods" and "watch" not in r["query"]) >= 2)
    watching(api)
    mark = api.mark()
    assert proc.shim("ADD", shim, **pod_env(third, "p3")).code == 0
    assert [c for c in calls(api, mark) if c[1] != "events"] == [("PUT", "status")], "p3 came from the relisted cache"
    lists = [r for r in api.requests() if "watch" not in r["query"] and r["path"].endswith(("/pods", "definitions"))]
    assert all("fieldSelector=spec.nodeName%3Dtestnode" in r["query"] for r in lists if r["path"] == "/api/v1/pods")
    for ns, name in ((first, "p1"), (second, "p2"), (third, "p3")):
        assert proc.shim("DEL", shim, **pod_env(ns, name)).code == 0


def test_socket_health_metrics_and_a_pod_missing_from_the_cache(cluster, daemon, networks, netns):
    api, proc, shim = node(cluster, daemon, networks, nad("mv", config=cluster.macvlan()), metricsPort=0)
    assert stat.S_IMODE(os.stat(proc.socket_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(proc.socket).st_mode) == 0o600
    api.create(pod("late", annotations={NETWORKS: "mv"}))
    added = proc.shim("ADD", shim, **pod_env(netns, "late"))
    assert added.code == 0 and set(links_in(netns)) == {"lo", "eth0", "net1"}
    assert proc.shim("DEL", shim, **pod_env(netns, "late")).code == 0
    assert proc.get("/nothing")[0] == 404


def test_metrics_on_loopback(cluster, daemon, networks, netns):
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api, proc, shim = node(cluster, daemon, networks, pod("p1"), metricsPort=port)
    assert proc.shim("ADD", shim, **pod_env(netns)).code == 0
    assert proc.shim("DEL", shim, **pod_env(netns)).code == 0
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert 'multus_requests_total{handler="cni",command="ADD",outcome="ok"} 1' in text
    assert 'multus_requests_total{handler="cni",command="DEL",outcome="ok"} 1' in text
    assert 'multus_cache_objects{resource="pods"} 1' in text and "multus_request_duration_seconds_bucket" in text
    assert "multus_api_requests_total" in text and "multus_ready 1" in text


def test_delegate_endpoint_hot_plugs_one_network(cluster, daemon, networks, netns):
    import base64

    # The daemon's own clusterNetwork must not take the hot-plugged network's place.
    api, proc, shim = node(cluster, daemon, networks, pod("p1"), clusterNetwork=str(cluster.cluster_file))
    assert proc.shim("ADD", shim, **pod_env(netns)).code == 0
    conf = dict(cluster.macvlan("10.252.9.0/24"), name="hotplug", capabilities={"ips": True})
    conf["ipam"] = {"type": "static"}
    env = {k: v for k, v in pod_env(netns).items()}
    body = {"env": dict(env, CNI_COMMAND="ADD", CNI_IFNAME="hot1", CNI_PATH="/usr/lib/cni"),
            "config": base64.b64encode(json.dumps(conf).encode()).decode(),
            "interfaceAttributes": {"ips": ["10.252.9.5/24"], "mac": "02:00:00:00:09:05"}}
    status, answer = post(proc, "/delegate", body)
    assert status == 200, answer
    assert json.loads(answer)["Result"]["interfaces"][0]["name"] == "hot1"
    assert addrs_in(netns)["hot1"] == ["10.252.9.5/24"]
    body["env"]["CNI_COMMAND"] = "DEL"
    assert post(proc, "/delegate", body)[0] == 200
    assert "hot1" not in links_in(netns)
    assert proc.shim("DEL", shim, **pod_env(netns)).code == 0


def post(proc, path, body):
    import socket

    data = json.dumps(body).encode()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(60)
        sock.connect(str(proc.socket))
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, payload = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), payload


def test_upstream_clients_get_the_result_wrapped(cluster, daemon, networks, netns):
    import base64

    api, proc, shim = node(cluster, daemon, networks, pod("p1"))
    env = dict(pod_env(netns), CNI_COMMAND="ADD", CNI_PATH="/usr/lib/cni")
    status, answer = post(proc, "/cni", {"env": env, "config": base64.b64encode(json.dumps(shim).encode()).decode()})
    assert status == 200 and "interfaces" in json.loads(answer)["Result"]
    bad = dict(env, CNI_ARGS="garbage")
    status, answer = post(proc, "/cni", {"env": dict(bad, CNI_CONTAINERID="other"),
                                         "config": base64.b64encode(json.dumps(shim).encode()).decode()})
    assert status == 400 and json.loads(answer)["code"] == 4
    assert proc.shim("DEL", shim, **pod_env(netns)).code == 0
    ip("netns", "list")


def test_an_informer_stops_at_once_even_inside_a_watch(cluster):
    """Closing a socket does not wake a read blocked on it: stop() must, or each informer holds up
    the daemon's exit by its join timeout and SIGKILL ends the drain early."""
    from multus.core.log import Logger
    from multus.daemon.informer import Informer, trim_pod
    from multus.k8s import kubeconfig

    api = cluster.start(pod("p1"))
    informer = Informer("pods", kubeconfig.load(str(api.kubeconfig())), "/api/v1/pods", Logger("error", "", None, ""),
                        trim_pod)
    informer.start()
    assert informer.synced.wait(30) and informer.get("default", "p1") is not None
    wait_for(lambda: any("watch=1" in r["query"] for r in api.requests()))
    informer.stop()
    assert not informer._thread.is_alive(), "the informer thread was still blocked in its watch"


def test_an_informer_survives_an_error_nobody_foresaw(cluster):
    """A thread that died on one odd answer would leave a ready daemon with a frozen cache."""
    from multus.core.log import Logger
    from multus.daemon.informer import Informer, trim_pod
    from multus.k8s import kubeconfig

    api = cluster.start(pod("p1"))
    informer = Informer("pods", kubeconfig.load(str(api.kubeconfig())), "/api/v1/pods", Logger("error", "", None, ""),
                        trim_pod)
    real_list, failures = informer._list, []

    def list_once_broken():
        if not failures:
            failures.append(1)
            raise AttributeError("'list' object has no attribute 'get'")
        real_list()

    informer._list = list_once_broken
    informer.start()
    try:
        assert informer.synced.wait(30), "the informer thread ended at the first unexpected error"
        assert informer.get("default", "p1") is not None and failures == [1]
    finally:
        informer.stop()
