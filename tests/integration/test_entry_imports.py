"""The CNI hot path imports only what the request needs.

A static-delegates request loads nothing of click, pyroute2, ssl, yaml or the Kubernetes
client, nor the standard modules measured as expensive at start-up (json with re and enum,
contextlib, signal, ctypes, socket, threading: docs/performance.md); a Kubernetes-mode request
speaks TLS through _ssl, without ssl, socket, yaml (PyYAML), http.client or click.
"""

import ast
import json
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.fakeapi import nad, pod

PROBE = """
import io, os, sys
sys.path.insert(0, os.environ.pop('PROBE_REPO'))
sys.stdin = io.TextIOWrapper(io.BytesIO(os.environ.pop('PROBE_STDIN').encode()))
from multus import entry
code = entry.main()
print('\\nIMPORTS', repr({'modules': sorted(sys.modules), 'code': code}))
"""
NEVER = ("click", "pyroute2", "logging", "dataclasses", "typing", "subprocess", "http", "yaml", "multus.cli",
         "threading")
STATIC_NEVER = NEVER + ("ssl", "socket", "multus.k8s", "multus.core.kube", "multus.httpwire", "json", "re",
                        "enum", "contextlib", "signal", "ctypes", "runpy", "importlib.util")


def probe(command, conf, args=""):
    # The test's own namespace stands in for the pod's; the noop delegates change nothing in it.
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": "imp", "CNI_NETNS": "/proc/self/ns/net", "CNI_IFNAME": "mprobe0",
           "CNI_PATH": str(REPO / "tests" / "fakeplugins"), "PROBE_STDIN": json.dumps(conf), "PROBE_REPO": str(REPO),
           "CNI_ARGS": args}
    # -sS as in build/multus's shebang: the interpreter's own site hooks may import typing.
    out = subprocess.run([sys.executable, "-sS", "-c", PROBE], env=env, capture_output=True, text=True, check=True).stdout
    return ast.literal_eval(out.rsplit("IMPORTS", 1)[1].strip())


def loaded(modules, forbidden):
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


def test_static_delegates_path_imports_no_heavy_modules(tmp_path):
    conf = {"cniVersion": "1.0.0", "name": "n", "type": "multus", "cniDir": str(tmp_path / "state"),
            "delegates": [{"type": "noop"}, {"type": "noop"}, {"type": "noop"}]}
    for command in ("VERSION", "ADD", "CHECK", "DEL"):
        seen = probe(command, conf, "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p")
        assert (seen["code"], loaded(seen["modules"], STATIC_NEVER)) == (0, []), command
    assert not list((tmp_path / "state" / "attachments").iterdir()), "ADD and DEL ran to completion"


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_kubernetes_path_imports_no_yaml_and_no_http_client(tmp_path, fake_api, fmt):
    """JSON (what `multus install` writes) or YAML in the shape upstream's entrypoint writes: no PyYAML."""
    api = fake_api(pod("p"), nad("n2", config={"cniVersion": "1.0.0", "type": "noop"}))
    conf = {"cniVersion": "1.0.0", "name": "n", "type": "multus", "cniDir": str(tmp_path / "state"),
            "kubeconfig": str(api.kubeconfig(fmt=fmt)), "delegates": [{"type": "noop"}]}
    seen = probe("ADD", conf, "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p")
    assert seen["code"] == 0
    assert loaded(seen["modules"], NEVER + ("ssl", "socket", "json", "re", "contextlib")) == []
    assert "_ssl" in seen["modules"] and "multus.k8s.client" in seen["modules"], "TLS straight on _ssl"
    assert probe("DEL", conf, "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p")["code"] == 0


SHIM_PROBE = """
import posix, sys
before = set(sys.modules)
sys.path.insert(0, posix.environ[b'PROBE_REPO'].decode())
sys.argv = ['/opt/cni/bin/multus-shim']
from multus import entry
code = entry.main()
sys.stdout.flush()
sys.stderr.write('\\nIMPORTS ' + repr({'new': sorted(set(sys.modules) - before), 'code': code}))
"""
SHIM_ONLY = {"multus", "multus.entry", "multus.shim", "_socket", "binascii"}
RESULT = b'{"cniVersion":"1.0.0","interfaces":[]}'


def test_shim_forwarding_imports_only_itself_and_the_socket(tmp_path, one_answer_socket):
    """Not even `os` (~2 ms of each exec): the shim's whole cost should be the interpreter's start."""
    seen = one_answer_socket(str(tmp_path / "multus.sock"),
                             b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(RESULT), RESULT))
    conf = {"cniVersion": "1.0.0", "name": "n", "type": "multus-shim", "daemonSocketDir": str(tmp_path),
            "daemonFallback": False}
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "imp", "CNI_NETNS": "/proc/self/ns/net", "CNI_IFNAME": "eth0",
           "CNI_PATH": "/usr/lib/cni", "PROBE_REPO": str(REPO)}
    proc = subprocess.run([sys.executable, "-sSE", "-c", SHIM_PROBE], env=env, input=json.dumps(conf).encode(),
                          capture_output=True, check=True, timeout=30)
    seen_imports = ast.literal_eval(proc.stderr.decode().rsplit("IMPORTS", 1)[1].strip())
    assert seen and b"POST /cni" in seen[0], "the request reached the socket"
    assert proc.stdout == RESULT, "stdout is the daemon's bytes"
    assert seen_imports["code"] == 0
    assert set(seen_imports["new"]) <= SHIM_ONLY, sorted(set(seen_imports["new"]) - SHIM_ONLY)
