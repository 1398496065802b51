"""Where a daemon-mode ADD's time goes, phase by phase, with timers around the daemon's own functions.

The daemon runs in this process (its real socket server, informers and client pool, against the
fake API server over TLS); each round the built file, installed as `multus-shim`, sends it a
Kubernetes-mode ADD (a pod with one NAD, macvlan, and the cluster network, bridge) and a DEL, and
the same two delegates are also run directly, as bench.py does. Printed: the median of each
timer over the rounds, next to `python3 -sSE -c pass` and the direct delegates measured in the
same rounds. Complements bench.py's phase split, which has only the plugin's own timing line.

Run as root after ./build.sh: /usr/bin/python3 benchmarks/daemon_phases.py [ROUNDS]
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench import NETWORKS, PLUGINS, PYTHON, timed  # noqa: E402
from multus.cni import invoke, netns  # noqa: E402
from multus.core import attach, kube, plugin, session, state  # noqa: E402
from multus.core.log import Logger  # noqa: E402
from multus.daemon import server  # noqa: E402
from multus.daemon.config import DaemonConfig  # noqa: E402
from multus.daemon.service import Daemon  # noqa: E402
from multus.k8s import kubeconfig  # noqa: E402
from tests.fakeapi import FakeApi, nad, pod  # noqa: E402

# (owner, attribute, label): what each timer covers, outermost first.
TIMED = [
    (server.SocketServer, "serve_connection", "HTTP request on the socket"),
    (Daemon, "handle", "daemon request"),
    (plugin.MultusPlugin, "add", "plugin ADD"),
    (session.Session, "for_add", "resolve (pod and NADs from the caches)"),
    (attach.Attacher, "add", "attach (lock, checks, state, delegates, status)"),
    (netns, "link_names", "  the pod's interfaces check"),
    (state.StateStore, "save", "  state writes (first version, results)"),
    (invoke, "exec_plugin", "  delegates (spawn to reap)"),
    (attach.Attacher, "spawned", "  recording delegate pids"),
    (attach.Attacher, "_after_delegates", "  network-status beside the results update"),
    (kube.Kube, "write_status", "    network-status PUT"),
]


def install_timers(samples: dict[str, float]) -> None:
    for owner, name, label in TIMED:
        real = getattr(owner, name)

        def timed(*args, _real=real, _label=label, **kwargs):
            started = time.perf_counter()
            try:
                return _real(*args, **kwargs)
            finally:
                samples[_label] = samples.get(_label, 0.0) + (time.perf_counter() - started) * 1000

        setattr(owner, name, timed)


def run(argv: list[str], stdin: bytes, env: dict[str, str]) -> float:
    return timed(argv, stdin, env)[0]


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 25
    if os.geteuid() != 0:
        print("run as root: this creates namespaces and links", file=sys.stderr)
        return 2
    tag = str(os.getpid() % 10000)
    scratch = Path(tempfile.mkdtemp(prefix="multus-phases-"))
    master, bridge = f"dp{tag}m", f"dp{tag}b"
    ipam = {"type": "host-local", "dataDir": str(scratch / "ipam")}
    macvlan = {"cniVersion": "1.0.0", "name": "phases-nad", "type": "macvlan", "master": master, "mode": "bridge",
               "ipam": dict(ipam, subnet="10.237.1.0/24")}
    cluster = {"cniVersion": "1.0.0", "name": "phases-br", "type": "bridge", "bridge": bridge, "isGateway": True,
               "ipam": dict(ipam, subnet="10.237.0.0/24")}
    subprocess.run(["ip", "link", "add", master, "type", "veth", "peer", "name", master + "p"], check=True)
    subprocess.run(["ip", "link", "set", master, "up"], check=True)
    api = FakeApi(scratch / "api", [nad("phases-nad", config=macvlan)])
    daemon = listener = None
    rows: dict[str, list[float]] = {}
    try:
        (scratch / "cluster.conf").write_text(json.dumps(cluster))
        socket_dir = str(scratch / "sock")
        creds = kubeconfig.load(str(api.kubeconfig()))
        daemon = Daemon(DaemonConfig({"socketDir": socket_dir}, ""), creds, "phasesnode", Logger("error", "", None, ""),
                        [str(REPO / "build" / "multus")])
        daemon.start_caches()
        listener = server.serve_socket(daemon, os.path.join(socket_dir, "multus.sock"))
        deadline = time.monotonic() + 30
        while not daemon.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        shim = str(scratch / "multus-shim")
        shutil.copy(REPO / "build" / "multus", shim)
        conf = json.dumps({"cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus-shim",
                           "kubeconfig": str(api.kubeconfig()), "clusterNetwork": str(scratch / "cluster.conf"),
                           "cniDir": str(scratch / "state"), "daemonSocketDir": socket_dir,
                           "daemonFallback": False}).encode()
        samples: dict[str, float] = {}
        install_timers(samples)
        for i in range(rounds + 2):  # the first two warm the caches and the page cache
            ns, cid = f"dp{tag}-{i}", f"phases-{tag}-{i}"
            subprocess.run(["ip", "netns", "add", ns], check=True)
            api.create(pod(cid, annotations={NETWORKS: "phases-nad"}, node="phasesnode"))
            time.sleep(0.05)  # the watch delivers the pod
            try:
                base = {"CNI_CONTAINERID": cid, "CNI_NETNS": f"/var/run/netns/{ns}", "CNI_PATH": PLUGINS,
                        "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={cid}"}
                python = run([PYTHON, "-sSE", "-c", "pass"], b"", {})
                samples.clear()
                wall = run([shim], conf, dict(base, CNI_COMMAND="ADD", CNI_IFNAME="eth0"))
                settled = time.monotonic() + 5  # the handler's timer stops just after the shim has its answer
                while TIMED[0][2] not in samples and time.monotonic() < settled:
                    time.sleep(0.001)
                add = dict(samples)
                run([shim], conf, dict(base, CNI_COMMAND="DEL", CNI_IFNAME="eth0"))
                direct = 0.0
                done = []
                for delegate, ifname in ((cluster, "d0"), (macvlan, "d1")):
                    env = dict(base, CNI_COMMAND="ADD", CNI_IFNAME=ifname, CNI_CONTAINERID="direct-" + cid)
                    direct += run([os.path.join(PLUGINS, delegate["type"])], json.dumps(delegate).encode(), env)
                    done.append((delegate, env))
                for delegate, env in reversed(done):
                    run([os.path.join(PLUGINS, delegate["type"])], json.dumps(delegate).encode(),
                        dict(env, CNI_COMMAND="DEL"))
                if i < 2:
                    continue
                for key, value in (("python3 -sSE -c pass", python), ("shim ADD, wall", wall),
                                   ("the same delegates run directly", direct), *add.items()):
                    rows.setdefault(key, []).append(value)
            finally:
                subprocess.run(["ip", "netns", "del", ns], check=False)
                api.delete("Pod", cid)
    finally:
        if listener is not None:
            listener.stop()
        if daemon is not None:
            daemon.stop_caches()
        api.stop()
        subprocess.run(["ip", "link", "del", master], check=False)
        subprocess.run(["ip", "link", "del", bridge], check=False)
        shutil.rmtree(scratch, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"daemon-mode Kubernetes ADD, medians of {rounds} rounds (ms):")
    for key in ("python3 -sSE -c pass", "shim ADD, wall", "the same delegates run directly"):
        print(f"  {key:52s} {med[key]:7.2f}")
    for _, _, label in TIMED:
        if label in med:
            print(f"  {label:52s} {med[label]:7.2f}")
    overhead = med["shim ADD, wall"] - med["the same delegates run directly"]
    print(f"  ADD overhead: {overhead:+.2f} ms = {overhead / med['python3 -sSE -c pass']:.2f}x python; outside the "
          f"daemon's HTTP handler (shim exec, connect, exchange): "
          f"{med['shim ADD, wall'] - med['HTTP request on the socket'] - med['python3 -sSE -c pass']:+.2f} ms "
          f"above python")
    return 0


if __name__ == "__main__":
    sys.exit(main())
