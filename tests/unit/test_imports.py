"""The CNI hot path stays on the standard library: no click, no pyroute2."""

import json
import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import io, json, os, sys
sys.stdin = io.TextIOWrapper(io.BytesIO(os.environ.pop('PROBE_STDIN').encode()))
from multus import entry
code = entry.main()
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'pyroute2', 'logging', 'dataclasses', 'multus.cli'))
heavy += sorted(m for m in sys.modules if m.startswith('multus.cli'))
print('\\nIMPORTS', json.dumps(heavy))
"""


def probe(command, conf, tmp_path):
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": "imp", "CNI_NETNS": "/nonexistent", "CNI_IFNAME": "eth0",
           "CNI_PATH": str(tmp_path), "PROBE_STDIN": json.dumps(conf), "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.rsplit("IMPORTS", 1)[1])


def test_cni_path_imports_no_heavy_modules(tmp_path):
    conf = {"cniVersion": "1.0.0", "name": "n", "type": "multus", "cniDir": str(tmp_path / "state"),
            "delegates": [{"type": "missing-plugin"}]}
    for command in ("VERSION", "ADD", "DEL"):
        assert probe(command, conf, tmp_path) == [], command
