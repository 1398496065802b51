"""The benchmark harness runs end to end and reports every figure (no timing is asserted)."""

import json
import subprocess
import sys

from tests.conftest import BINARY, REPO


def test_benchmark_harness_produces_a_full_report(tmp_path):
    report = tmp_path / "report.json"
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench.py"), "--binary", str(BINARY),
                          "--cycles", "1", "--report", str(report)], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads(report.read_text())
    assert sorted(data["scenarios"]) == ["daemon-k8s-1", "daemon-static-1", "daemon-static-3", "k8s-1", "static-1",
                                         "static-3", "static-8", "static-8c"]
    for row in data["scenarios"].values():
        for cmd in ("add", "del"):
            assert {"multus", "direct", "overhead_ms", "overhead_x_python"} <= set(row[cmd])
    assert data["scenarios"]["k8s-1"]["api_requests"] == {"add": 3, "events": 2, "del": 0}
    assert data["scenarios"]["daemon-k8s-1"]["api_requests"]["add"] == 1
    assert data["scenarios"]["daemon-k8s-1"]["api_requests"]["del"] == 0
    assert data["daemon_rss_kib"] > 0
    assert data["python_sSE_pass_ms"] > 0 and data["version"]["x_python"] > 0
    assert data["rss_kib"]["add8"] > 0 and data["rss_kib"]["k8s"] > 0 and data["stored"]["gc_10000"] > 0
    assert "| k8s-1 |" in out.stdout and "targets:" in out.stdout


def test_daemon_phase_harness_reports_each_phase():
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "daemon_phases.py"), "1"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    for label in ("shim ADD, wall", "the same delegates run directly", "network-status PUT", "ADD overhead"):
        assert label in out.stdout, out.stdout


def test_daemon_pair_harness_compares_two_builds():
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "daemon_pair.py"), str(BINARY), "1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    for label in ("static-1 old:", "static-1 new:", "k8s-1 old:", "k8s-1 new:", "old minus new"):
        assert label in out.stdout, out.stdout


def test_fake_put_pair_harness_compares_two_fakes():
    server = REPO / "tests" / "fakeapi" / "server.py"
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "fake_put_pair.py"), str(server), "2"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    for label in ("old: median", "new: median", "old minus new"):
        assert label in out.stdout, out.stdout
