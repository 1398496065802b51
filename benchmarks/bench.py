"""multus against the same delegates invoked directly, interleaved in one run, in fresh namespaces.

Prints medians and p90s of ADD and DEL for 1, 3 and 8 delegates (bridge + macvlans on veth
masters, host-local), multus's overhead per command, VERSION start-up against `python3 -c pass`,
peak RSS, sequential vs concurrent delegates, flatness with 10,000 stored containers, and the
imports that dominate start-up; writes a JSON report. Run as root: ./build.sh bench
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

PLUGINS = "/usr/lib/cni"
PYTHON = "/usr/bin/python3"


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
    _, _, usage = os.wait4(pid, 0)
    return usage.ru_maxrss


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Bench:
    def __init__(self, binary: str, scratch: str) -> None:
        self.binary = binary
        self.scratch = scratch
        self.tag = str(os.getpid() % 10000)
        self.masters = [f"bv{self.tag}m{i}" for i in range(7)]
        self.bridge = f"bb{self.tag}"
        self.samples: dict[str, list[float]] = {}
        self.counter = 0

    def setup(self) -> None:
        for master in self.masters:
            ip("link", "add", master, "type", "veth", "peer", "name", f"{master}p")
            ip("link", "set", master, "up")
            ip("link", "set", f"{master}p", "up")

    def teardown(self) -> None:
        for master in self.masters:
            ip("link", "del", master, check=False)
        ip("link", "del", self.bridge, check=False)

    def delegates(self, count: int) -> list[dict]:
        ipam_dir = os.path.join(self.scratch, "ipam")
        out = [{"cniVersion": "1.0.0", "name": f"bench-br{self.tag}", "type": "bridge", "bridge": self.bridge,
                "isGateway": True, "ipMasq": False,
                "ipam": {"type": "host-local", "subnet": "10.231.0.0/24", "routes": [{"dst": "0.0.0.0/0"}],
                         "dataDir": ipam_dir}}]
        for i in range(count - 1):
            out.append({"cniVersion": "1.0.0", "name": f"bench-mv{self.tag}-{i}", "type": "macvlan",
                        "master": self.masters[i], "mode": "bridge",
                        "ipam": {"type": "host-local", "subnet": f"10.231.{i + 1}.0/24", "dataDir": ipam_dir}})
        return out

    def multus_conf(self, count: int, concurrent: bool, cni_dir: str | None = None) -> dict:
        return {"cniVersion": "1.0.0", "name": f"bench-multus{self.tag}", "type": "multus",
                "cniDir": cni_dir or os.path.join(self.scratch, "state"), "concurrentDelegates": concurrent,
                "delegates": self.delegates(count)}

    def env(self, command: str, netns: str, cid: str, ifname: str = "eth0") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
        env.update(CNI_COMMAND=command, CNI_CONTAINERID=cid, CNI_NETNS=f"/var/run/netns/{netns}",
                   CNI_IFNAME=ifname, CNI_PATH=PLUGINS,
                   CNI_ARGS=f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={cid}")
        return env

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

    def multus_cycle(self, count: int, concurrent: bool, label: str, cni_dir: str | None = None) -> None:
        netns, cid = self.fresh()
        try:
            conf = json.dumps(self.multus_conf(count, concurrent, cni_dir)).encode()
            add, _ = timed([self.binary], conf, self.env("ADD", netns, cid))
            expected = ["eth0", "lo"] + [f"net{i}" for i in range(1, count)]
            assert self.links(netns) == sorted(expected), self.links(netns)
            delete, _ = timed([self.binary], conf, self.env("DEL", netns, cid))
            assert self.links(netns) == ["lo"]
            self.record(f"{label}/add", add)
            self.record(f"{label}/del", delete)
        finally:
            ip("netns", "del", netns, check=False)

    def direct_cycle(self, count: int) -> None:
        netns, cid = self.fresh()
        try:
            results = []
            total = 0.0
            for i, conf in enumerate(self.delegates(count)):
                ifname = "eth0" if i == 0 else f"net{i}"
                ms, out = timed([os.path.join(PLUGINS, conf["type"])], json.dumps(conf).encode(),
                                   self.env("ADD", netns, cid, ifname))
                total += ms
                results.append((conf, ifname, json.loads(out)))
            self.record(f"direct{count}/add", total)
            total = 0.0
            for conf, ifname, result in reversed(results):
                ms, _ = timed([os.path.join(PLUGINS, conf["type"])],
                                 json.dumps(dict(conf, prevResult=result)).encode(),
                                 self.env("DEL", netns, cid, ifname))
                total += ms
            self.record(f"direct{count}/del", total)
            assert self.links(netns) == ["lo"]
        finally:
            ip("netns", "del", netns, check=False)

    def version_round(self) -> None:
        env = dict(os.environ, CNI_COMMAND="VERSION")
        self.record("version/multus", timed([self.binary], b"", env)[0])
        self.record("version/python", timed([PYTHON, "-c", "pass"], b"", env)[0])
        self.record("version/bridge", timed([os.path.join(PLUGINS, "bridge")], b"", env)[0])

    def populate(self, cni_dir: str, count: int) -> None:
        """`count` stored attachments, as many containers leave behind on a busy node."""
        root = os.path.join(cni_dir, "attachments")
        os.makedirs(root, mode=0o700)
        entry = {"kind": "multusAttachmentV1", "containerId": "", "ifName": "eth0", "netns": "", "cniArgs": "",
                 "cniVersion": "1.0.0", "delegates": [{"index": 0, "ifname": "eth0", "master": True,
                                                       "conf": self.delegates(1)[0], "result": None}]}
        for i in range(count):
            cid = f"stored-{i:05d}"
            os.mkdir(os.path.join(root, cid), 0o700)
            with open(os.path.join(root, cid, "eth0.json"), "w") as f:
                json.dump(dict(entry, containerId=cid), f)

    def gc_time(self, cni_dir: str, count: int) -> float:
        conf = dict(self.multus_conf(1, True, cni_dir), cniVersion="1.1.0")
        conf["cni.dev/valid-attachments"] = [{"containerID": f"stored-{i:05d}", "ifname": "eth0"} for i in range(count)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
        env.update(CNI_COMMAND="GC", CNI_PATH=PLUGINS)
        return timed([self.binary], json.dumps(conf).encode(), env)[0]


def imports_profile(binary: str, bench: Bench, command: str) -> list[tuple[str, int]]:
    """Cumulative import time (µs) of the heaviest top-level imports of one run (DEL: a full request path)."""
    env = bench.env(command, "gone", "profile")
    env["CNI_NETNS"] = ""
    conf = json.dumps(bench.multus_conf(1, True)).encode()
    err = subprocess.run([PYTHON, "-sSE", "-X", "importtime", binary], input=conf, capture_output=True,
                         env=env).stderr.decode()
    rows = []
    for line in err.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
            if not name.startswith(" "):
                rows.append((name.strip(), int(cumulative)))
    return sorted(rows, key=lambda r: -r[1])[:8]


def summarize(bench: Bench, cycles: int, stored: dict) -> dict:
    s = bench.samples

    def med(key: str) -> float:
        return round(statistics.median(s[key]), 1)

    def p90(key: str) -> float:
        return round(pct(s[key], 0.9), 1)

    report: dict = {"cycles": cycles, "scenarios": {}, "targets": {}}
    for n in (1, 3, 8):
        row = {}
        for mode in ("seq", "conc"):
            for cmd in ("add", "del"):
                key = f"multus{n}{mode}/{cmd}"
                row[f"multus_{mode}_{cmd}"] = {"median": med(key), "p90": p90(key)}
        for cmd in ("add", "del"):
            row[f"direct_{cmd}"] = {"median": med(f"direct{n}/{cmd}"), "p90": p90(f"direct{n}/{cmd}")}
            row[f"overhead_{cmd}"] = round(row[f"multus_conc_{cmd}"]["median"] - row[f"direct_{cmd}"]["median"], 1)
            row[f"overhead_seq_{cmd}"] = round(row[f"multus_seq_{cmd}"]["median"] - row[f"direct_{cmd}"]["median"], 1)
        row["concurrency_speedup_add"] = round(row["multus_seq_add"]["median"] / row["multus_conc_add"]["median"], 2)
        report["scenarios"][n] = row
    version = {k: {"median": med(f"version/{k}"), "p90": p90(f"version/{k}")} for k in ("multus", "python", "bridge")}
    report["version"] = version
    report["stored"] = stored
    sc = report["scenarios"]
    report["targets"] = {
        "version_within_2x_python": version["multus"]["median"] <= 2 * version["python"]["median"],
        "add_del_overhead_le_25ms_1_and_3": all(sc[n][f"overhead_{c}"] <= 25 for n in (1, 3) for c in ("add", "del")),
        "concurrent_8_add_1_5x_faster": sc[8]["concurrency_speedup_add"] >= 1.5,
        "concurrent_3_add_le_direct_sequential": sc[3]["multus_conc_add"]["median"] <= sc[3]["direct_add"]["median"],
        "flat_with_10000_stored": stored["add_10000"] <= stored["add_empty"] * 1.25 + 5,
    }
    return report


def print_report(report: dict) -> None:
    print(f"\nmultus vs direct delegates, medians (p90) in ms over {report['cycles']} interleaved cycles")
    print("| delegates | direct ADD | multus ADD | overhead | direct DEL | multus DEL | overhead | "
          "ADD sequential | concurrent speedup |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, r in report["scenarios"].items():
        print(f"| {n} | {r['direct_add']['median']} ({r['direct_add']['p90']}) "
              f"| {r['multus_conc_add']['median']} ({r['multus_conc_add']['p90']}) | {r['overhead_add']:+} "
              f"| {r['direct_del']['median']} ({r['direct_del']['p90']}) "
              f"| {r['multus_conc_del']['median']} ({r['multus_conc_del']['p90']}) | {r['overhead_del']:+} "
              f"| {r['multus_seq_add']['median']} | {r['concurrency_speedup_add']}x |")
    v = report["version"]
    print(f"\nVERSION: multus {v['multus']['median']} ms, python3 -c pass {v['python']['median']} ms "
          f"({v['multus']['median'] / v['python']['median']:.2f}x), bridge {v['bridge']['median']} ms")
    print(f"peak RSS: VERSION {report['rss_kib']['version']} KiB, 8-delegate ADD {report['rss_kib']['add8']} KiB")
    st = report["stored"]
    print(f"10,000 stored containers: 1-delegate ADD {st['add_empty']} → {st['add_10000']} ms, "
          f"DEL {st['del_empty']} → {st['del_10000']} ms, GC of 10,000 {st['gc_10000']} ms")
    for command, rows in report["imports"].items():
        print(f"\nwhere {command} start-up goes (cumulative import µs, top-level): " +
              ", ".join(f"{name} {us}" for name, us in rows))
    v = report["version"]
    add1 = report["scenarios"][1]
    print(f"1-delegate ADD overhead {add1['overhead_add']} ms = interpreter {v['python']['median']} ms + "
          f"multus start-up {round(v['multus']['median'] - v['python']['median'], 1)} ms + "
          f"request work and imports {round(add1['overhead_add'] - v['multus']['median'], 1)} ms")
    print("\ntargets:")
    for name, ok in report["targets"].items():
        print(f"  {'PASS' if ok else 'MISS'}  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", default="build/multus")
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--report", default="benchmarks/results/report.json")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root: the benchmark creates namespaces and links", file=sys.stderr)
        return 2
    binary = os.path.abspath(args.binary)
    scratch = tempfile.mkdtemp(prefix="multus-bench-")
    bench = Bench(binary, scratch)
    bench.setup()
    try:
        for _ in range(2):  # warm-up: page cache, first extraction
            bench.version_round()
            bench.multus_cycle(3, True, "warmup")
            bench.direct_cycle(3)
        bench.samples.clear()
        for cycle in range(args.cycles):
            bench.version_round()
            for n in (1, 3, 8):
                steps = [lambda n=n: bench.multus_cycle(n, False, f"multus{n}seq"),
                         lambda n=n: bench.multus_cycle(n, True, f"multus{n}conc"),
                         lambda n=n: bench.direct_cycle(n)]
                for step in steps[cycle % 3:] + steps[:cycle % 3]:
                    step()
        env_version = dict(os.environ, CNI_COMMAND="VERSION")
        netns, cid = bench.fresh()
        try:
            rss_add = spawn_rss([binary], json.dumps(bench.multus_conf(8, True)).encode(), bench.env("ADD", netns, cid))
            timed([binary], json.dumps(bench.multus_conf(8, True)).encode(), bench.env("DEL", netns, cid))
        finally:
            ip("netns", "del", netns, check=False)
        rss = {"version": spawn_rss([binary], b"", env_version), "add8": rss_add}
        big = os.path.join(scratch, "big-state")
        bench.populate(big, 10000)
        for _ in range(args.cycles):
            bench.multus_cycle(1, True, "stored0")
            bench.multus_cycle(1, True, "stored10k", big)
        stored = {"add_empty": round(statistics.median(bench.samples["stored0/add"]), 1),
                  "add_10000": round(statistics.median(bench.samples["stored10k/add"]), 1),
                  "del_empty": round(statistics.median(bench.samples["stored0/del"]), 1),
                  "del_10000": round(statistics.median(bench.samples["stored10k/del"]), 1),
                  "gc_10000": round(bench.gc_time(big, 10000), 1)}
        report = summarize(bench, args.cycles, stored)
        report["rss_kib"] = rss
        report["imports"] = {cmd: imports_profile(binary, bench, cmd) for cmd in ("VERSION", "DEL")}
        print_report(report)
        os.makedirs(os.path.dirname(args.report), exist_ok=True)
        with open(args.report, "w") as f:
            json.dump(report, f, indent=2)
        print(f"\nreport: {args.report}")
        return 0
    finally:
        bench.teardown()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
