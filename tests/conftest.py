"""Shared fixtures: in-process and built-file CNI calls, scratch namespaces and links.

Everything a test creates (namespaces, links, state and IPAM directories) is removed at
teardown, also when the test fails.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
from pathlib import Path

import pytest

from multus.core.plugin import run

REPO = Path(__file__).resolve().parent.parent
BINARY = REPO / "build" / "multus"
PLUGIN_DIR = "/usr/lib/cni"


def require_current_build() -> None:
    """Tests of the built file must test this tree: refuse a missing or stale build/multus."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("source_digest", REPO / "build" / "source_digest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stamp = BINARY.with_suffix(".digest")
    if not BINARY.exists() or not stamp.exists():
        pytest.fail(f"{BINARY} is missing: run ./build.sh first", pytrace=False)
    if stamp.read_text().strip() != module.digest(REPO):
        pytest.fail(f"{BINARY} was built from other sources than this tree: run ./build.sh", pytrace=False)


class Outcome:
    """What a runtime sees: exit code, the stdout document, and stderr."""

    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code = code
        self.stdout = stdout
        self.stderr = stderr
        self.json = json.loads(stdout) if stdout.strip() else None

    def __repr__(self) -> str:
        return f"Outcome(code={self.code}, stdout={self.stdout!r}, stderr={self.stderr[-2000:]!r})"


def cni_env(command: str, **env: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    base["CNI_COMMAND"] = command
    base.setdefault("CNI_PATH", PLUGIN_DIR)
    base.update(env)
    return base


def run_inprocess(command: str, conf: dict | bytes | str, **env: str) -> Outcome:
    stdin = conf if isinstance(conf, bytes) else (conf if isinstance(conf, str) else json.dumps(conf)).encode()
    out, err = io.BytesIO(), io.StringIO()
    code = run(cni_env(command, **env), stdin, out, err)
    return Outcome(code, out.getvalue().decode(), err.getvalue())


def run_binary(command: str, conf: dict | bytes, binary: Path = BINARY, **env: str) -> Outcome:
    stdin = conf if isinstance(conf, bytes) else json.dumps(conf).encode()
    proc = subprocess.run([str(binary)], input=stdin, capture_output=True, env=cni_env(command, **env), timeout=120)
    return Outcome(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def ip(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def links_in(netns: str) -> list[str]:
    return sorted(link["ifname"] for link in json.loads(ip("-n", netns, "-j", "link")))


def addrs_in(netns: str) -> dict[str, list[str]]:
    """ifname → IPv4 CIDRs inside the namespace."""
    out = {}
    for link in json.loads(ip("-n", netns, "-j", "addr")):
        out[link["ifname"]] = [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])
                               if a.get("family") == "inet"]
    return out


def default_route_dev(netns: str) -> str | None:
    for route in json.loads(ip("-n", netns, "-j", "route")):
        if route.get("dst") == "default":
            return route.get("dev")
    return None


def reservations(ipam_dir: Path) -> list[str]:
    """Addresses host-local still holds under a dataDir (its files named like IPs)."""
    return sorted(p.name for p in ipam_dir.rglob("*") if p.is_file() and p.name[0].isdigit() and "." in p.name)


def tag() -> str:
    return secrets.token_hex(3)


@pytest.fixture
def netns_factory():
    made: list[str] = []

    def make() -> str:
        name = f"mt-{tag()}"
        ip("netns", "add", name)
        made.append(name)
        return name

    yield make
    for name in made:
        ip("netns", "del", name, check=False)


@pytest.fixture
def netns(netns_factory) -> str:
    return netns_factory()


@pytest.fixture
def link_cleanup():
    """Host links a test (or the plugins it calls) creates; deleted at teardown."""
    names: list[str] = []
    yield names
    for name in names:
        ip("link", "del", name, check=False)


@pytest.fixture
def veth(link_cleanup):
    """A host veth pair, both ends up: the first end serves as a macvlan master."""

    def make() -> str:
        name = f"mv{tag()}"
        ip("link", "add", name, "type", "veth", "peer", "name", f"{name}p")
        ip("link", "set", name, "up")
        ip("link", "set", f"{name}p", "up")
        link_cleanup.append(name)
        return name

    return make


@pytest.fixture
def scratch(tmp_path) -> Path:
    (tmp_path / "state").mkdir()
    (tmp_path / "ipam").mkdir()
    return tmp_path


@pytest.fixture
def networks(scratch, veth, link_cleanup):
    """Builders for real delegate configs on scratch subnets; bridges are removed afterwards."""

    class Networks:
        ipam_dir = scratch / "ipam"
        state_dir = scratch / "state"

        @staticmethod
        def ipam(subnet: str, **extra) -> dict:
            return {"type": "host-local", "subnet": subnet, "dataDir": str(scratch / "ipam"), **extra}

        def bridge(self, subnet: str = "10.251.0.0/24", **extra) -> dict:
            name = f"mb{tag()}"
            link_cleanup.append(name)
            return {"name": f"br-{name}", "type": "bridge", "bridge": name, "isGateway": True, "ipMasq": False,
                    "ipam": self.ipam(subnet, routes=[{"dst": "0.0.0.0/0"}]), **extra}

        def macvlan(self, subnet: str = "10.251.1.0/24", **extra) -> dict:
            return {"name": f"mv-{tag()}", "type": "macvlan", "master": veth(), "mode": "bridge",
                    "ipam": self.ipam(subnet), **extra}

        def ptp(self, subnet: str = "10.251.2.0/24", **extra) -> dict:
            return {"name": f"ptp-{tag()}", "type": "ptp", "ipam": self.ipam(subnet), **extra}

        def multus(self, *delegates: dict, version: str = "1.0.0", **extra) -> dict:
            conf = {"cniVersion": version, "name": f"multus-{tag()}", "type": "multus",
                    "cniDir": str(scratch / "state"), "delegates": list(delegates), **extra}
            if version is None:
                del conf["cniVersion"]
            return conf

    return Networks()


def attach_env(netns: str, cid: str = "", ifname: str = "eth0", **extra: str) -> dict[str, str]:
    return {"CNI_CONTAINERID": cid or f"cid-{netns}", "CNI_NETNS": f"/var/run/netns/{netns}",
            "CNI_IFNAME": ifname, "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=test", **extra}


FAKE_PLUGINS = REPO / "tests" / "fakeplugins"


@pytest.fixture
def recorder(tmp_path, monkeypatch):
    """The recorder test double on CNI_PATH; returns a reader for what it was sent."""
    log = tmp_path / "recorder.log"
    log.touch()
    monkeypatch.setenv("RECORDER_LOG", str(log))

    def calls() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()]

    return calls


# Every request the plugin and the daemon made to a fake API server during this run (the RBAC test reads it).
API_REQUESTS_SEEN: list[dict] = []


def pytest_collection_modifyitems(items):
    """The RBAC test judges the requests of the whole run: it goes last."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/integration/test_rbac.py"))


@pytest.fixture
def fake_api(tmp_path):
    """Start the project's fake API server (TLS, bearer token) with given objects; stopped at teardown."""
    from tests.fakeapi import FakeApi

    started = []

    def start(*objects, tls: bool = True, address: str = "127.0.0.1"):
        api = FakeApi(tmp_path / f"api{len(started)}", list(objects), tls=tls, address=address)
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()
        API_REQUESTS_SEEN.extend(r for r in api.requests() if r["user"].startswith("system:"))


def pod_env(netns, name="p1", namespace="default", uid="", cid=""):
    args = f"IgnoreUnknown=1;K8S_POD_NAMESPACE={namespace};K8S_POD_NAME={name};K8S_POD_INFRA_CONTAINER_ID=x"
    if uid:
        args += f";K8S_POD_UID={uid}"
    return {"CNI_CONTAINERID": cid or f"c-{netns}", "CNI_NETNS": f"/var/run/netns/{netns}", "CNI_IFNAME": "eth0",
            "CNI_ARGS": args}


@pytest.fixture
def daemon(tmp_path):
    """Start `multus daemon` processes (stopped at teardown): daemon(**daemon_config_keys)."""
    from tests.daemonproc import DaemonProcess

    started = []

    def start(wait_ready: bool = True, **config):
        proc = DaemonProcess(tmp_path / f"daemon{len(started)}", **config)
        started.append(proc)
        return proc.start(wait_ready)

    yield start
    for proc in started:
        import signal

        proc.stop(signal.SIGKILL)


@pytest.fixture
def one_answer_socket():
    """A stand-in daemon on a unix socket: takes one request (head and a body ending in `}`), records it,
    sends `answer`, closes. serve(path, answer) -> the list the request is appended to."""
    import socket
    import threading

    started = []

    def serve(path: str, answer: bytes) -> list[bytes]:
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        listener.listen(1)
        seen: list[bytes] = []

        def take() -> None:
            conn, _ = listener.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data or not data.endswith(b"}"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                seen.append(data)
                conn.sendall(answer)

        worker = threading.Thread(target=take, daemon=True)
        worker.start()
        started.append((worker, listener))
        return seen

    yield serve
    for worker, listener in started:
        worker.join(10)
        listener.close()
