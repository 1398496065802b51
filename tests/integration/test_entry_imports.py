"""The CNI hot path stays on the standard library: no click, no pyroute2."""

import json
import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import io, json, os, sys
sys.path.insert(0, os.environ.pop('PROBE_REPO'))
sys.stdin = io.TextIOWrapper(io.BytesIO(os.environ.pop('PROBE_STDIN').encode()))
from multus import entry
code = entry.main()
heavy = sorted(m for m in sys.modules if m.split('.')[0] in
               ('click', 'pyroute2', 'logging', 'dataclasses', 'typing', 'subprocess', 'socket', 'http'))
heavy += sorted(m for m in sys.modules if m.startswith('multus.cli'))
print('\\nIMPORTS', json.dumps({'heavy': heavy, 'code': code}))
"""


def probe(command, conf, tmp_path):
    # The test's own namespace stands in for the pod's; the noop delegates change nothing in it.
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": "imp", "CNI_NETNS": "/proc/self/ns/net", "CNI_IFNAME": "mprobe0",
           "CNI_PATH": str(REPO / "tests" / "fakeplugins"), "PROBE_STDIN": json.dumps(conf), "PROBE_REPO": str(REPO)}
    # -sS as in build/multus's shebang: the interpreter's own site hooks may import typing.
    out = subprocess.run([sys.executable, "-sS", "-c", PROBE], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.rsplit("IMPORTS", 1)[1])


def test_cni_path_imports_no_heavy_modules(tmp_path):
    conf = {"cniVersion": "1.0.0", "name": "n", "type": "multus", "cniDir": str(tmp_path / "state"),
            "delegates": [{"type": "noop"}, {"type": "noop"}, {"type": "noop"}]}
    for command in ("VERSION", "ADD", "CHECK", "DEL"):
        assert probe(command, conf, tmp_path) == {"heavy": [], "code": 0}, command
    assert not list((tmp_path / "state" / "attachments").iterdir()), "ADD and DEL ran to completion"
