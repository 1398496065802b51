"""The benchmark harness runs end to end and reports every figure (no timing is asserted)."""

import json
import subprocess
import sys

from tests.conftest import BINARY, REPO


def test_benchmark_harness_produces_a_full_report(tmp_path):
    report = tmp_path / "report.json"
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench.py"), "--binary", str(BINARY),
                          "--cycles", "1", "--report", str(report)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads(report.read_text())
    assert sorted(data["scenarios"]) == ["1", "3", "8"]
    for row in data["scenarios"].values():
        assert {"direct_add", "multus_seq_add", "multus_conc_add", "overhead_add", "overhead_del"} <= set(row)
    assert set(data["version"]) == {"multus", "python", "bridge"}
    assert data["rss_kib"]["add8"] > 0 and data["stored"]["gc_10000"] > 0
    assert set(data["targets"]) >= {"version_within_2x_python", "add_del_overhead_le_25ms_1_and_3"}
    assert "| 8 |" in out.stdout
