"""multus against the same delegates invoked directly, interleaved in one run, in fresh namespaces.

Every round times, in rotating order: `/usr/bin/python3 -sSE -c pass` (the yardstick: every
figure is also given as a ratio to it, so any machine can reproduce the comparison), VERSION,
and each scenario's ADD and DEL next to the same delegates invoked directly:

  static-1, static-3     bridge (+ macvlans on veth masters), host-local; delegates in list order
  static-8 / static-8c   8 delegates, sequential and concurrentDelegates
  k8s-1                  Kubernetes mode: the fake API server over TLS on loopback, a pod with one
                         NAD (macvlan), the cluster network (bridge) from a file; API requests per
                         command from the fake's request log
  daemon-static-1/3      the same static configs through `multus-shim` and a running `multus daemon`
  daemon-k8s-1           k8s-1 through the shim and the daemon (its caches fed by list + watch)
  compare-*              with --compare BIN: static-1, static-3 and k8s-1 run by another CNI multus
                         executable (e.g. upstream's Go thin plugin), in the same rounds

For where the time goes it prints the ADD's own phase split (the plugin's verbose timing line; in
daemon mode the daemon's, against the shim's wall time, and a shim request the daemon answers at
once), and the heaviest imports of the file's real start (its interpreter line).

It also reports peak RSS, ADD/DEL with 10,000 stored attachments and a GC over them, and where
start-up time goes (-X importtime). Writes a JSON report. Run as root: ./build.sh bench
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

PLUGINS = "/usr/lib/cni"
PYTHON = "/usr/bin/python3"
NETWORKS = "k8s.v1.cni.cncf.io/networks"


def ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


def timed(argv: list[str], stdin: bytes, env: dict[str, str]) -> tuple[float, bytes]:
    """Wall time from spawn to exit in ms, and stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = proc.communicate(stdin)
    elapsed = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {out.decode()} {err.decode()}")
    return elapsed, out


def spawn_rss(argv: list[str], stdin: bytes, env: dict[str, str]) -> int:
    """Peak RSS (KiB) of one run, from wait4."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(r, 0)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execve(argv[0], argv, env)
    os.close(r)
    os.write(w, stdin)
    os.close(w)
    _, status, usage = os.wait4(pid, 0)
    if status:
        raise RuntimeError(f"{argv[0]} failed while measuring RSS")
    return usage.ru_maxrss


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Bench:
    def __init__(self, binary: str, scratch: str, compare: str = "") -> None:
        self.binary = binary
        self.compare = compare
        self.scratch = scratch
        self.tag = str(os.getpid() % 10000)
        self.masters = [f"bv{self.tag}m{i}" for i in range(7)]
        self.bridge = f"bb{self.tag}"
        self.samples: dict[str, list[float]] = {}
        self.api_calls: dict[str, list[int]] = {}
        self.counter = 0
        self.api = None

    def setup(self) -> None:
        for master in self.masters:
            ip("link", "add", master, "type", "veth", "peer", "name", f"{master}p")
            ip("link", "set", master, "up")
            ip("link", "set", f"{master}p", "up")

    def teardown(self) -> None:
        if getattr(self, "daemon", None) is not None:
            self.daemon.terminate()
            self.daemon.wait(timeout=30)
        if self.api is not None:
            self.api.stop()
        for master in self.masters:
            ip("link", "del", master, check=False)
        ip("link", "del", self.bridge, check=False)

    # --- configs ------------------------------------------------------------------------------
    def ipam(self, subnet: str, **extra) -> dict:
        return {"type": "host-local", "subnet": subnet, "dataDir": os.path.join(self.scratch, "ipam"), **extra}

    def bridge_conf(self) -> dict:
        return {"cniVersion": "1.0.0", "name": f"bench-br{self.tag}", "type": "bridge", "bridge": self.bridge,
                "isGateway": True, "ipMasq": False, "ipam": self.ipam("10.231.0.0/24", routes=[{"dst": "0.0.0.0/0"}])}

    def macvlan_conf(self, i: int) -> dict:
        return {"cniVersion": "1.0.0", "name": f"bench-mv{self.tag}-{i}", "type": "macvlan",
                "master": self.masters[i], "mode": "bridge", "ipam": self.ipam(f"10.231.{i + 1}.0/24")}

    def delegates(self, count: int) -> list[dict]:
        return [self.bridge_conf()] + [self.macvlan_conf(i) for i in range(count - 1)]

    def multus_conf(self, count: int, concurrent: bool = False, cni_dir: str | None = None) -> dict:
        return {"cniVersion": "1.0.0", "name": f"bench-multus{self.tag}", "type": "multus",
                "cniDir": cni_dir or os.path.join(self.scratch, "state"), "concurrentDelegates": concurrent,
                "delegates": self.delegates(count)}

    def start_daemon(self) -> None:
        """`multus daemon` with a kubeconfig for the fake, and the file installed as multus-shim."""
        bin_dir = os.path.join(self.scratch, "bin")
        os.makedirs(bin_dir, exist_ok=True)
        self.shim = os.path.join(bin_dir, "multus-shim")
        shutil.copy(self.binary, self.shim)
        self.socket_dir = os.path.join(self.scratch, "sock")
        config = os.path.join(self.scratch, "daemon-config.json")
        with open(config, "w") as f:
            json.dump({"socketDir": self.socket_dir, "kubeconfig": self.k8s_conf["kubeconfig"],
                       "logToStderr": False}, f)
        self.daemon = subprocess.Popen([self.binary, "daemon", "--config", config], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, env=dict(os.environ, MULTUS_NODE_NAME="benchnode"))
        deadline = time.monotonic() + 60
        while not os.path.exists(os.path.join(self.socket_dir, "multus.sock")):
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("multus daemon did not start")
            time.sleep(0.05)
        time.sleep(1)  # caches synced (the shim falls back to in-process work until then)

    def shim_conf(self, conf: dict) -> dict:
        return dict(conf, type="multus-shim", daemonSocketDir=self.socket_dir, daemonFallback=False)

    def start_api(self) -> None:
        """The fake API server (TLS, bearer token) with a pod per cycle added on demand and one NAD."""
        from tests.fakeapi import FakeApi, nad

        nad_conf = dict(self.macvlan_conf(0), name="bench-nad")
        self.api = FakeApi(Path(self.scratch) / "api",
                           [nad("bench-nad", config=nad_conf)])
        cluster = os.path.join(self.scratch, "10-cluster.conf")
        with open(cluster, "w") as f:
            json.dump(self.bridge_conf(), f)
        self.k8s_conf = {"cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus",
                         "kubeconfig": str(self.api.kubeconfig()), "clusterNetwork": cluster,
                         "cniDir": os.path.join(self.scratch, "state")}

    def env(self, command: str, netns: str, cid: str, ifname: str = "eth0") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
        env.update(CNI_COMMAND=command, CNI_CONTAINERID=cid, CNI_NETNS=f"/var/run/netns/{netns}",
                   CNI_IFNAME=ifname, CNI_PATH=PLUGINS,
                   CNI_ARGS=f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={cid};"
                            f"K8S_POD_INFRA_CONTAINER_ID={cid}")
        return env

    # --- measurements ---------------------------------------------------------------------------
    def record(self, key: str, value: float) -> None:
        self.samples.setdefault(key, []).append(value)

    def fresh(self) -> tuple[str, str]:
        self.counter += 1
        name = f"bn{self.tag}-{self.counter}"
        ip("netns", "add", name)
        return name, f"bench-{self.tag}-{self.counter}"

    def links(self, netns: str) -> list[str]:
        out = subprocess.run(["ip", "-n", netns, "-o", "link"], capture_output=True, text=True).stdout
        return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines())

    def multus_cycle(self, label: str, conf: dict, count: int, k8s: bool = False, shim: bool = False,
                     program: str = "") -> None:
        netns, cid = self.fresh()
        program = program or (self.shim if shim else self.binary)
        try:
            if k8s:
                from tests.fakeapi import pod

                self.api.create(pod(cid, annotations={NETWORKS: "bench-nad"}, node="benchnode"))
                if shim:
                    time.sleep(0.05)  # the watch delivers the new pod (else the daemon fetches it once)
                mark = self.api.mark()
            stdin = json.dumps(self.shim_conf(conf) if shim else conf).encode()
            add, _ = timed([program], stdin, self.env("ADD", netns, cid))
            if k8s:
                made = self.api.requests(mark)
                self.api_calls.setdefault(f"{label}/add", []).append(
                    sum(1 for r in made if "/events" not in r["path"]))
                self.api_calls.setdefault(f"{label}/events", []).append(
                    sum(1 for r in made if "/events" in r["path"]))
                mark = self.api.mark()
            expected = ["eth0", "lo"] + [f"net{i}" for i in range(1, count)]
            assert self.links(netns) == sorted(expected), self.links(netns)
            delete, _ = timed([program], stdin, self.env("DEL", netns, cid))
            if k8s:
                # Events are excepted (the daemon sends them in the background, so they may land during DEL).
                self.api_calls.setdefault(f"{label}/del", []).append(
                    sum(1 for r in self.api.requests(mark) if "/events" not in r["path"]))
                self.api.delete("Pod", cid)
            assert self.links(netns) == ["lo"]
            self.record(f"{label}/add", add)
            self.record(f"{label}/del", delete)
        finally:
            ip("netns", "del", netns, check=False)

    def direct_cycle(self, label: str, confs: list[dict]) -> None:
        netns, cid = self.fresh()
        try:
            results = []
            total = 0.0
            for i, conf in enumerate(confs):
                ifname = "eth0" if i == 0 else f"net{i}"
                ms, out = timed([os.path.join(PLUGINS, conf["type"])], json.dumps(conf).encode(),
                                self.env("ADD", netns, cid, ifname))
                total += ms
                results.append((conf, ifname, json.loads(out)))
            self.record(f"{label}/add", total)
            total = 0.0
            for conf, ifname, result in reversed(results):
                ms, _ = timed([os.path.join(PLUGINS, conf["type"])], json.dumps(dict(conf, prevResult=result)).encode(),
                              self.env("DEL", netns, cid, ifname))
                total += ms
            self.record(f"{label}/del", total)
            assert self.links(netns) == ["lo"]
        finally:
            ip("netns", "del", netns, check=False)

    def start_round(self) -> None:
        env = dict(os.environ, CNI_COMMAND="VERSION")
        self.record("python", timed([PYTHON, "-sSE", "-c", "pass"], b"", env)[0])
        self.record("version/multus", timed([self.binary], b"", env)[0])
        if self.compare:
            self.record("version/compare", timed([self.compare], b"", env)[0])
        self.record("version/bridge", timed([os.path.join(PLUGINS, "bridge")], b"", env)[0])

    def steps(self) -> list:
        return [
            lambda: self.multus_cycle("static-1", self.multus_conf(1), 1),
            lambda: self.direct_cycle("direct-1", self.delegates(1)),
            lambda: self.multus_cycle("static-3", self.multus_conf(3), 3),
            lambda: self.direct_cycle("direct-3", self.delegates(3)),
            lambda: self.multus_cycle("static-8", self.multus_conf(8), 8),
            lambda: self.multus_cycle("static-8c", self.multus_conf(8, True), 8),
            lambda: self.direct_cycle("direct-8", self.delegates(8)),
            lambda: self.multus_cycle("k8s-1", self.k8s_conf, 2, k8s=True),
            lambda: self.direct_cycle("direct-2", [self.bridge_conf(), dict(self.macvlan_conf(0), name="bench-nad")]),
            lambda: self.multus_cycle("daemon-static-1", self.multus_conf(1), 1, shim=True),
            lambda: self.multus_cycle("daemon-static-3", self.multus_conf(3), 3, shim=True),
            lambda: self.multus_cycle("daemon-k8s-1", self.k8s_conf, 2, k8s=True, shim=True),
        ] + ([
            lambda: self.multus_cycle("compare-static-1", self.multus_conf(1), 1, program=self.compare),
            lambda: self.multus_cycle("compare-static-3", self.multus_conf(3), 3, program=self.compare),
            lambda: self.multus_cycle("compare-k8s-1", self.k8s_conf, 2, k8s=True, program=self.compare),
        ] if self.compare else [])

    # --- stored attachments ---------------------------------------------------------------------
    def populate(self, cni_dir: str, count: int) -> None:
        """`count` stored attachments, as many containers leave behind on a busy node."""
        root = os.path.join(cni_dir, "attachments")
        os.makedirs(root, mode=0o700)
        conf = self.multus_conf(1)
        entry = {"kind": "multusAttachmentV1", "containerId": "", "ifName": "eth0", "netns": "", "cniArgs": "",
                 "network": conf["name"], "delegates": [{"name": conf["delegates"][0]["name"], "source": "delegates[0]",
                                                         "ifname": "eth0", "master": True, "conf": self.bridge_conf(),
                                                         "args": "", "runtimeConfig": {}, "result": None}]}
        for i in range(count):
            cid = f"stored-{i:05d}"
            os.mkdir(os.path.join(root, cid), 0o700)
            with open(os.path.join(root, cid, "eth0.json"), "w") as f:
                json.dump(dict(entry, containerId=cid), f)

    def gc_time(self, cni_dir: str, count: int) -> float:
        conf = dict(self.multus_conf(1, cni_dir=cni_dir), cniVersion="1.1.0")
        conf["cni.dev/valid-attachments"] = [{"containerID": f"stored-{i:05d}", "ifname": "eth0"} for i in range(count)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
        env.update(CNI_COMMAND="GC", CNI_PATH=PLUGINS)
        return timed([self.binary], json.dumps(conf).encode(), env)[0]


def daemon_rss_with(bench: Bench, pods: int, nads: int) -> int:
    """The daemon's resident memory (KiB) once its caches hold `pods` pods of its node and `nads` NADs."""
    from tests.fakeapi import nad, pod

    for i in range(nads):
        bench.api.create(nad(f"rss-nad-{i}", namespace=f"ns{i % 20}", config=bench.macvlan_conf(0)))
    for i in range(pods):
        bench.api.create(pod(f"rss-pod-{i}", namespace=f"ns{i % 20}", node="benchnode",
                             annotations={NETWORKS: f"rss-nad-{i % nads}"}))
    time.sleep(3)  # the watch delivers them
    with open(f"/proc/{bench.daemon.pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def start_argv(binary: str) -> list[str]:
    """How the kernel starts the file: its interpreter line (a `-c` program), without the file's arguments."""
    with open(binary, "rb") as f:
        line = f.readline().decode()[2:].rstrip("\n")
    interpreter, _, flags = line.partition(" ")
    if "c" in flags.lstrip("-"):
        options, _, program = flags.partition("c")
        return [interpreter, options, "-c", program]
    return [interpreter, flags] if flags else [interpreter]


def imports_profile(bench: Bench, command: str, conf: dict) -> list[tuple[str, int]]:
    """Cumulative import time (µs) of the heaviest top-level imports of one real start (DEL: a request path)."""
    env = bench.env(command, "gone", "profile")
    env["CNI_NETNS"] = ""
    argv = start_argv(bench.binary)
    argv = [argv[0], "-X", "importtime", *argv[1:], bench.binary]
    err = subprocess.run(argv, input=json.dumps(conf).encode(), capture_output=True, env=env).stderr.decode()
    rows = []
    for line in err.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
            if not name.startswith(" "):
                rows.append((name.strip(), int(cumulative)))
    return sorted(rows, key=lambda r: -r[1])[:8]


def phase_split(bench: Bench, conf: dict, count: int, k8s: bool, runs: int = 7, shim: bool = False) -> dict:
    """The median of `runs` ADDs with the plugin's timing line: wall time against its phases."""
    splits = [one_split(bench, conf, k8s, shim) for _ in range(runs)]
    split = {key: round(statistics.median(s[key] for s in splits if key in s), 1) for key in splits[0]}
    if shim:
        split["shim_exec_answered_at_once"] = shim_floor(bench, conf, runs)
    return split


def one_split(bench: Bench, conf: dict, k8s: bool, shim: bool = False) -> dict:
    """One ADD with the plugin's timing line: wall time against resolve / attach / delegates / report.

    Through the shim the line is the daemon's, read from the request's own log file; the rest of the
    wall time is the shim's exec and the exchange on the socket."""
    netns, cid = bench.fresh()
    log = os.path.join(bench.scratch, f"split-{cid}.log")
    try:
        if k8s:
            from tests.fakeapi import pod

            bench.api.create(pod(cid, annotations={NETWORKS: "bench-nad"}, node="benchnode"))
            if shim:
                time.sleep(0.05)  # the watch delivers the new pod
        verbose = dict(conf, logLevel="verbose", logFile=log) if shim else dict(conf, logLevel="verbose",
                                                                                logToStderr=True)
        program = bench.shim if shim else bench.binary
        stdin = json.dumps(bench.shim_conf(verbose) if shim else verbose).encode()
        start = time.perf_counter()
        proc = subprocess.run([program], input=stdin, capture_output=True, env=bench.env("ADD", netns, cid))
        wall = (time.perf_counter() - start) * 1000
        text = open(log).read() if shim and os.path.exists(log) else proc.stderr.decode()
        line = next((ln for ln in text.splitlines() if "ADD took" in ln), "")
        quiet = bench.shim_conf(conf) if shim else conf
        timed([program], json.dumps(quiet).encode(), bench.env("DEL", netns, cid))
    finally:
        ip("netns", "del", netns, check=False)
    numbers = [float(tok) for tok in line.replace("(", " ").replace(")", " ").replace(",", " ").split()
               if tok.replace(".", "", 1).isdigit()]
    if len(numbers) < 5:
        return {"wall": round(wall, 1)}
    total, resolve, attach, delegates, report = numbers[:5]
    return {"wall": round(wall, 1), "in_daemon" if shim else "in_process": total, "resolve": resolve,
            "attach": attach, "delegates": delegates, "state_lock_and_checks": round(attach - delegates, 1),
            "report": report, "shim_exec_and_socket" if shim else "interpreter_and_imports": round(wall - total, 1)}


def shim_floor(bench: Bench, conf: dict, runs: int) -> float:
    """A shim request the daemon answers at once (its netns does not exist): the shim's exec and one
    exchange on the socket, with no delegate, state or API work behind it."""
    env = dict(bench.env("ADD", "none", "bench-floor"), CNI_NETNS="/var/run/netns/multus-bench-none")
    stdin = json.dumps(bench.shim_conf(conf)).encode()
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([bench.shim], input=stdin, capture_output=True, env=env)
        walls.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(walls), 1)


SCENARIOS = {"static-1": "direct-1", "static-3": "direct-3", "static-8": "direct-8", "static-8c": "direct-8",
             "k8s-1": "direct-2", "daemon-static-1": "direct-1", "daemon-static-3": "direct-3",
             "daemon-k8s-1": "direct-2", "compare-static-1": "direct-1", "compare-static-3": "direct-3",
             "compare-k8s-1": "direct-2"}


def summarize(bench: Bench, cycles: int, stored: dict, daemon_rss: int) -> dict:
    s = bench.samples

    def stat(key: str) -> dict:
        return {"median": round(statistics.median(s[key]), 1), "p90": round(pct(s[key], 0.9), 1)}

    python = statistics.median(s["python"])
    report: dict = {"cycles": cycles, "python_sSE_pass_ms": round(python, 1), "scenarios": {}}
    for name, direct in SCENARIOS.items():
        if f"{name}/add" not in s:
            continue
        row: dict = {}
        for cmd in ("add", "del"):
            multus, base = stat(f"{name}/{cmd}"), stat(f"{direct}/{cmd}")
            overhead = round(multus["median"] - base["median"], 1)
            row[cmd] = {"multus": multus, "direct": base, "overhead_ms": overhead,
                        "overhead_x_python": round(overhead / python, 2)}
        calls = {k.split("/")[1]: statistics.median(v) for k, v in bench.api_calls.items() if k.startswith(name + "/")}
        if calls:
            row["api_requests"] = calls
        report["scenarios"][name] = row
    version = stat("version/multus")
    report["version"] = {"multus": version, "bridge": stat("version/bridge"),
                         "x_python": round(version["median"] / python, 2)}
    if "version/compare" in s:
        report["version"]["compare"] = stat("version/compare")
        report["version"]["compare_x_python"] = round(report["version"]["compare"]["median"] / python, 2)
    report["stored"] = stored
    report["daemon_rss_kib"] = daemon_rss
    sc = report["scenarios"]
    report["k8s_add_above_static_ms"] = round(sc["k8s-1"]["add"]["overhead_ms"] - sc["static-1"]["add"]["overhead_ms"], 1)
    report["targets"] = {
        "static ADD/DEL overhead <= 2.5x python (1 and 3 delegates)":
            all(sc[n][c]["overhead_x_python"] <= 2.5 for n in ("static-1", "static-3") for c in ("add", "del")),
        "VERSION <= 1.6x python": report["version"]["x_python"] <= 1.6,
        "k8s ADD overhead <= 5x python": sc["k8s-1"]["add"]["overhead_x_python"] <= 5,
        "k8s ADD <= static ADD + 30 ms": report["k8s_add_above_static_ms"] <= 30,
        "k8s API requests per ADD <= 3 (events excepted)": sc["k8s-1"]["api_requests"]["add"] <= 3,
        "k8s API requests per DEL == 0": sc["k8s-1"]["api_requests"]["del"] == 0,
        "daemon ADD overhead <= 1.5x python (static and k8s)":
            all(sc[n]["add"]["overhead_x_python"] <= 1.5 for n in ("daemon-static-1", "daemon-k8s-1")),
        "daemon API requests per ADD <= 1, per DEL == 0":
            sc["daemon-k8s-1"]["api_requests"]["add"] <= 1 and sc["daemon-k8s-1"]["api_requests"]["del"] == 0,
        "daemon RSS < 60 MiB with 1,000 pods and 200 NADs": report.get("daemon_rss_kib", 0) < 60 * 1024,
        "flat with 10,000 stored": stored["add_10000"] <= stored["add_empty"] * 1.25 + 5,
    }
    return report


def print_report(report: dict) -> None:
    python = report["python_sSE_pass_ms"]
    print(f"\nmedians (p90) in ms over {report['cycles']} interleaved cycles; python3 -sSE -c pass = {python} ms "
          f"(every \"x\" is a multiple of it)")
    print("| scenario | direct ADD | multus ADD | ADD overhead | direct DEL | multus DEL | DEL overhead | API requests |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in report["scenarios"].items():
        a, d = r["add"], r["del"]
        calls = r.get("api_requests")
        api = f"ADD {calls['add']:g} (+{calls['events']:g} events), DEL {calls['del']:g}" if calls else "-"
        print(f"| {name} | {a['direct']['median']} | {a['multus']['median']} ({a['multus']['p90']}) "
              f"| {a['overhead_ms']:+} ({a['overhead_x_python']}x) | {d['direct']['median']} "
              f"| {d['multus']['median']} ({d['multus']['p90']}) | {d['overhead_ms']:+} ({d['overhead_x_python']}x) "
              f"| {api} |")
    v = report["version"]
    print(f"\nVERSION: multus {v['multus']['median']} ms ({v['x_python']}x python), bridge {v['bridge']['median']} ms"
          + (f", compared file {v['compare']['median']} ms ({v['compare_x_python']}x)" if "compare" in v else ""))
    for name, split in report["phases"].items():
        print(f"where a {name} ADD's {split['wall']} ms go: " + ", ".join(f"{k} {v}" for k, v in split.items()
                                                                   if k != "wall"))
    print(f"Kubernetes-mode ADD overhead above static mode: {report['k8s_add_above_static_ms']:+} ms")
    print(f"peak RSS: VERSION {report['rss_kib']['version']} KiB, 8-delegate ADD {report['rss_kib']['add8']} KiB, "
          f"Kubernetes-mode ADD {report['rss_kib']['k8s']} KiB; daemon with 1,000 pods and 200 NADs cached "
          f"{report['daemon_rss_kib']} KiB")
    st = report["stored"]
    print(f"10,000 stored attachments: 1-delegate ADD {st['add_empty']} → {st['add_10000']} ms, "
          f"DEL {st['del_empty']} → {st['del_10000']} ms, GC of 10,000 {st['gc_10000']} ms")
    for command, rows in report["imports"].items():
        print(f"where {command} start-up goes (cumulative import µs, top-level): " +
              ", ".join(f"{name} {us}" for name, us in rows))
    print("\ntargets:")
    for name, ok in report["targets"].items():
        print(f"  {'PASS' if ok else 'MISS'}  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", default="build/multus")
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--report", default="benchmarks/results/report.json")
    parser.add_argument("--compare", default="", metavar="BIN",
                        help="another CNI multus executable to run through the static and Kubernetes scenarios")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root: the benchmark creates namespaces and links", file=sys.stderr)
        return 2
    binary = os.path.abspath(args.binary)
    scratch = tempfile.mkdtemp(prefix="multus-bench-")
    bench = Bench(binary, scratch, os.path.abspath(args.compare) if args.compare else "")
    bench.setup()
    try:
        bench.start_api()
        bench.start_daemon()
        steps = bench.steps()
        for _ in range(2):  # warm-up: page cache, first extraction
            bench.start_round()
            for step in steps:
                step()
        bench.samples.clear()
        bench.api_calls.clear()
        for cycle in range(args.cycles):
            bench.start_round()
            shift = cycle % len(steps)
            for step in steps[shift:] + steps[:shift]:
                step()
        rss = {"version": spawn_rss([binary], b"", dict(os.environ, CNI_COMMAND="VERSION"))}
        for key, conf, k8s in (("add8", bench.multus_conf(8), False), ("k8s", bench.k8s_conf, True)):
            netns, cid = bench.fresh()
            try:
                if k8s:
                    from tests.fakeapi import pod

                    bench.api.create(pod(cid, annotations={NETWORKS: "bench-nad"}))
                rss[key] = spawn_rss([binary], json.dumps(conf).encode(), bench.env("ADD", netns, cid))
                timed([binary], json.dumps(conf).encode(), bench.env("DEL", netns, cid))
            finally:
                ip("netns", "del", netns, check=False)
        big = os.path.join(scratch, "big-state")
        bench.populate(big, 10000)
        for _ in range(args.cycles):
            bench.multus_cycle("stored0", bench.multus_conf(1), 1)
            bench.multus_cycle("stored10k", bench.multus_conf(1, cni_dir=big), 1)
        med = {k: round(statistics.median(v), 1) for k, v in bench.samples.items()}
        stored = {"add_empty": med["stored0/add"], "add_10000": med["stored10k/add"], "del_empty": med["stored0/del"],
                  "del_10000": med["stored10k/del"], "gc_10000": round(bench.gc_time(big, 10000), 1)}
        report = summarize(bench, args.cycles, stored, daemon_rss_with(bench, 1000, 200))
        report["rss_kib"] = rss
        report["imports"] = {"VERSION": imports_profile(bench, "VERSION", bench.multus_conf(1)),
                             "DEL": imports_profile(bench, "DEL", bench.multus_conf(1))}
        report["phases"] = {"static-1": phase_split(bench, bench.multus_conf(1), 1, False),
                            "k8s-1": phase_split(bench, bench.k8s_conf, 2, True),
                            "daemon-static-1": phase_split(bench, bench.multus_conf(1), 1, False, shim=True),
                            "daemon-k8s-1": phase_split(bench, bench.k8s_conf, 2, True, shim=True)}
        print_report(report)
        os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
        with open(args.report, "w") as f:
            json.dump(report, f, indent=2)
        print(f"\nreport: {args.report}")
        return 0
    finally:
        bench.teardown()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
