"""Two builds' daemon mode side by side: which one is faster, beyond the machine's drift.

bench.py's run-to-run drift (±0.15x of `python3 -sSE -c pass`) hides a 1-2 ms cut. Here two daemons, one
per build, each with its own shim, serve bench.py's daemon-static-1 and daemon-k8s-1 scenarios in one
interleaved run against one fake API; each cycle times both, so the old-minus-new difference is taken
cycle by cycle. Printed: each build's ADD overhead (as bench.py computes it, with the direct delegates of
the same rounds) and the median per-cycle difference.

Run as root after ./build.sh: /usr/bin/python3 benchmarks/daemon_pair.py OLD_BINARY [CYCLES]
(OLD_BINARY: another build of the file, e.g. from `git worktree add /tmp/old <commit>` and its ./build.sh).
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

from benchmarks.bench import PYTHON, Bench, timed  # noqa: E402


def start_second_daemon(bench: Bench, binary: str) -> tuple[subprocess.Popen, str, str]:
    """`binary daemon` on a socket of its own, with bench's kubeconfig; its shim is a copy of `binary`."""
    bin_dir = os.path.join(bench.scratch, "old-bin")
    os.makedirs(bin_dir)
    shim = os.path.join(bin_dir, "multus-shim")
    shutil.copy(binary, shim)
    socket_dir = os.path.join(bench.scratch, "old-sock")
    config = os.path.join(bench.scratch, "old-daemon-config.json")
    with open(config, "w") as f:
        json.dump({"socketDir": socket_dir, "kubeconfig": bench.k8s_conf["kubeconfig"], "logToStderr": False}, f)
    proc = subprocess.Popen([binary, "daemon", "--config", config], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, MULTUS_NODE_NAME="benchnode"))
    deadline = time.monotonic() + 60
    while not ready(os.path.join(socket_dir, "multus.sock")):  # else its shim would run requests itself
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the second multus daemon did not get ready")
        time.sleep(0.05)
    return proc, shim, socket_dir


def ready(socket_path: str) -> bool:
    from multus.httpwire import Connection

    try:
        return Connection(unix_path=socket_path, timeout=5).request("GET", "/readyz").status == 200
    except OSError:
        return False


def main() -> int:
    if len(sys.argv) < 2 or os.geteuid() != 0:
        print("as root: daemon_pair.py OLD_BINARY [CYCLES]", file=sys.stderr)
        return 2
    old_binary = os.path.abspath(sys.argv[1])
    cycles = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    bench = Bench(str(REPO / "build" / "multus"), tempfile.mkdtemp(prefix="multus-pair-"))
    bench.setup()
    old = None
    try:
        bench.start_api()
        bench.start_daemon()
        daemons = {"new": (bench.shim, bench.socket_dir)}
        old, old_shim, old_socket = start_second_daemon(bench, old_binary)
        daemons["old"] = (old_shim, old_socket)

        def through(which: str, k8s: bool) -> None:
            bench.shim, bench.socket_dir = daemons[which]
            label = f"{'k8s' if k8s else 'static'}-{which}"
            bench.multus_cycle(label, bench.k8s_conf if k8s else bench.multus_conf(1), 2 if k8s else 1, k8s=k8s,
                               shim=True)

        steps = [lambda: bench.record("python", timed([PYTHON, "-sSE", "-c", "pass"], b"", {})[0]),
                 lambda: through("new", False), lambda: through("old", False),
                 lambda: bench.direct_cycle("direct-1", bench.delegates(1)),
                 lambda: through("new", True), lambda: through("old", True),
                 lambda: bench.direct_cycle("direct-2", [bench.bridge_conf(),
                                                         dict(bench.macvlan_conf(0), name="bench-nad")])]
        for step in steps:  # warm-up
            step()
        bench.samples.clear()
        for cycle in range(cycles):
            shift = cycle % len(steps)
            for step in steps[shift:] + steps[:shift]:
                step()
    finally:
        try:
            if old is not None:
                old.terminate()
                old.wait(timeout=30)
        finally:
            bench.teardown()
        shutil.rmtree(bench.scratch, ignore_errors=True)
    med = {key: statistics.median(values) for key, values in bench.samples.items()}
    python = med["python"]
    print(f"daemon mode, {old_binary} (old) against {bench.binary} (new): {cycles} interleaved cycles, "
          f"python3 -sSE -c pass = {python:.1f} ms")
    for scenario, direct in (("static", "direct-1"), ("k8s", "direct-2")):
        for which in ("old", "new"):
            overhead = med[f"{scenario}-{which}/add"] - med[f"{direct}/add"]
            print(f"  {scenario}-1 {which}: ADD {med[f'{scenario}-{which}/add']:.1f} ms, overhead {overhead:+.1f} ms "
                  f"= {overhead / python:.2f}x python")
        diffs = [a - b for a, b in zip(bench.samples[f"{scenario}-old/add"], bench.samples[f"{scenario}-new/add"],
                                       strict=True)]
        print(f"  {scenario}-1 old minus new, cycle by cycle: median {statistics.median(diffs):+.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
