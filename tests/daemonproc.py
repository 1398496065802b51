"""A real `multus daemon` process on a socket in a temp dir, and the shim that talks to it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import BINARY, Outcome, cni_env


class DaemonProcess:
    def __init__(self, scratch: Path, **config) -> None:
        self.scratch = scratch
        self.socket_dir = scratch / "sock"
        self.bin = scratch / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        shutil.copy(BINARY, self.bin / "multus-shim")
        self.config_path = scratch / "daemon-config.json"
        self.config = {"socketDir": str(self.socket_dir), "logLevel": "verbose", **config}
        self.config_path.write_text(json.dumps(self.config))
        self.log = scratch / "daemon.log"
        self.proc: subprocess.Popen | None = None

    @property
    def socket(self) -> Path:
        return self.socket_dir / "multus.sock"

    def start(self, wait_ready: bool = True) -> DaemonProcess:
        env = dict(os.environ, MULTUS_NODE_NAME="testnode")
        self.proc = subprocess.Popen([str(BINARY), "daemon", "--config", str(self.config_path)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "a"))
        deadline = time.monotonic() + 60
        while not (wait_ready and self.get("/readyz")[0] == 200 or not wait_ready and self.socket.exists()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"daemon did not start: {self.log.read_text()[-3000:]}")
            time.sleep(0.05)
        return self

    def get(self, path: str) -> tuple[int, bytes]:
        """A plain request on the socket (what a probe does)."""
        try:
            sock = socket.socket(socket.AF_UNIX)
            sock.settimeout(10)
            sock.connect(str(self.socket))
        except OSError:
            return 0, b""
        try:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        except OSError:
            return 0, b""
        finally:
            sock.close()
        if not data:
            return 0, b""
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def shim_config(self, **conf) -> dict:
        return {"cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus-shim",
                "daemonSocketDir": str(self.socket_dir), **conf}

    def shim(self, command: str, conf: dict, **env: str) -> Outcome:
        proc = subprocess.run([str(self.bin / "multus-shim")], input=json.dumps(conf).encode(), capture_output=True,
                              env=cni_env(command, **env), timeout=180)
        return Outcome(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    def shim_popen(self, command: str, conf: dict, **env: str) -> subprocess.Popen:
        proc = subprocess.Popen([str(self.bin / "multus-shim")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=cni_env(command, **env))
        proc.stdin.write(json.dumps(conf).encode())
        proc.stdin.close()
        return proc


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def watching(api):
    """Until each informer has a watch open after its latest list: /readyz turns 200 after the lists,
    and a watch request logged a moment later would otherwise land among the requests a test counts
    for one ADD."""
    def opened(path):
        kinds = ["watch" if "watch=1" in r["query"] else "list" for r in api.requests() if r["path"] == path]
        return "list" in kinds and "watch" in kinds[len(kinds) - kinds[::-1].index("list"):]

    wait_for(lambda: opened("/api/v1/pods") and opened("/apis/k8s.cni.cncf.io/v1/network-attachment-definitions"))
