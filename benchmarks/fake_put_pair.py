"""Two versions of the fake API server side by side: how long a PUT pods/status takes with a watcher.

Each server gets one pod and one watcher (the daemon's own pod informer, as in daemon mode); the
same client then alternates one PUT pods/status on each, 20 ms apart, and the medians are printed
with the median of the per-pair differences. It measures the test harness, not multus: the fake's
answer time is part of every Kubernetes-mode figure of bench.py.

Run after ./build.sh: /usr/bin/python3 benchmarks/fake_put_pair.py OLD_SERVER_PY [PAIRS]
(OLD_SERVER_PY: another version of tests/fakeapi/server.py, e.g. from `git show REV:tests/fakeapi/server.py`).
"""

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import tests.fakeapi as fakeapi  # noqa: E402
from multus.core.log import Logger  # noqa: E402
from multus.daemon.informer import Informer  # noqa: E402
from multus.k8s import client as k8sclient  # noqa: E402
from multus.k8s import kubeconfig  # noqa: E402

POD_PATH = "/api/v1/namespaces/default/pods/p1"


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: fake_put_pair.py OLD_SERVER_PY [PAIRS]", file=sys.stderr)
        return 2
    pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    scratch = Path(tempfile.mkdtemp(prefix="multus-putpair-"))
    running = {}
    try:
        for label, server in (("old", Path(sys.argv[1]).resolve()), ("new", fakeapi.SERVER)):
            fakeapi.SERVER = server
            api = fakeapi.FakeApi(scratch / label, [fakeapi.pod("p1", node="n1")])
            creds = kubeconfig.load(str(api.kubeconfig()))
            watcher = Informer("pods", creds, "/api/v1/pods", Logger("error", "", None, ""), lambda o: o,
                               field_selector="spec.nodeName=n1")
            running[label] = (api, watcher, k8sclient.Client(creds))
            watcher.start()
            if not watcher.synced.wait(10):
                raise RuntimeError(f"the {label} fake's watch did not sync")
        times: dict[str, list[float]] = {"old": [], "new": []}
        for i in range(pairs):
            for label in ("old", "new") if i % 2 else ("new", "old"):
                client = running[label][2]
                pod = client.get(POD_PATH)
                pod["metadata"].setdefault("annotations", {})["n"] = str(i)
                time.sleep(0.02)
                started = time.perf_counter()
                client.put(POD_PATH + "/status", pod)
                times[label].append((time.perf_counter() - started) * 1000)
    finally:
        for api, watcher, client in running.values():
            watcher.stop()
            client.close()
            api.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"PUT pods/status with one watcher, {pairs} alternating pairs (ms):")
    for label, values in times.items():
        print(f"  {label}: median {statistics.median(values):.2f}, p90 {sorted(values)[int(len(values) * 0.9)]:.2f}")
    diffs = [a - b for a, b in zip(times["old"], times["new"], strict=True)]
    print(f"  old minus new, pair by pair: median {statistics.median(diffs):+.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
