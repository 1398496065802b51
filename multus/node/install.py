"""`multus install`: what the DaemonSet's container runs on each node (upstream's thin/thick entrypoint).

Every path is the host's; the host's root is `host_root` as this process sees it (`/host` in
the DaemonSet). Steps: check that the host can run the file (its interpreter line names a
Python >= 3.11 under the host root), copy the file atomically into the host's CNI bin dir as
`multus` and `multus-shim`, write the kubeconfig from the pod's service account (JSON, which
the plugin reads without PyYAML; 0600; rewritten when the token rotates), and generate
`00-multus.conf(list)` from the primary config, again whenever the primary changes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading

from multus.cni.errors import CniError
from multus.fileutil import makedirs_private, temp_name, write_atomic
from multus.k8s.kubeconfig import SERVICE_ACCOUNT_DIR
from multus.node import confgen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

MIN_PYTHON = (3, 11)
BINARY_NAMES = ("multus", "multus-shim")


class InstallError(Exception):
    """Something on the host stops the install; the message says what."""


def interpreter_of(binary: str) -> str:
    with open(binary, "rb") as f:
        first = f.readline(512)
    if not first.startswith(b"#!"):
        raise InstallError(f"{binary} has no #! interpreter line")
    return first[2:].split()[0].decode()


def _resolve(host_root: str, path: str, hops: int = 16) -> str:
    """`path` as the host sees it, symlinks followed inside the host root (never into this container)."""
    current = path
    for _ in range(hops):
        full = os.path.join(host_root, current.lstrip("/"))
        if not os.path.islink(full):
            return current
        target = os.readlink(full)
        current = target if target.startswith("/") else os.path.normpath(os.path.join(os.path.dirname(current),
                                                                                      target))
    raise InstallError(f"{path}: too many symbolic links under {host_root}")


def host_python(host_root: str, binary: str) -> tuple[int, int]:
    """The version of the interpreter the file's first line names, on the host, without running it."""
    interpreter = interpreter_of(binary)
    real = _resolve(host_root, interpreter)
    if not os.path.isfile(os.path.join(host_root, real.lstrip("/"))):
        raise InstallError(f"the host has no {interpreter} (looked under {host_root}): the file needs Python "
                           f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} or later there (install python3, or rebuild with "
                           f"MULTUS_PYTHON=<the host's python3.11+>)")
    match = re.search(r"python(\d+)\.(\d+)$", real)
    if match:
        return int(match.group(1)), int(match.group(2))
    libs = [m for m in (re.fullmatch(r"python(\d+)\.(\d+)", d) for d in os.listdir(os.path.join(host_root, "usr/lib"))
                        if os.path.isdir(os.path.join(host_root, "usr/lib", d))) if m] \
        if os.path.isdir(os.path.join(host_root, "usr/lib")) else []
    if not libs:
        raise InstallError(f"cannot tell which Python {interpreter} is on the host (no python3.N name, no "
                           f"/usr/lib/python3.N)")
    return max((int(m.group(1)), int(m.group(2))) for m in libs)


def check_host(host_root: str, binary: str) -> str:
    version = host_python(host_root, binary)
    if version < MIN_PYTHON:
        raise InstallError(f"the host's {interpreter_of(binary)} is Python {version[0]}.{version[1]}; the file needs "
                           f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} or later")
    return f"{version[0]}.{version[1]}"


def copy_binary(source: str, bin_dir: str, names: tuple[str, ...] = BINARY_NAMES) -> list[str]:
    """Temp file in the target directory, then rename: a runtime never execs a half-copied file."""
    os.makedirs(bin_dir, exist_ok=True)
    written = []
    for name in names:
        target = os.path.join(bin_dir, name)
        tmp = temp_name(target)
        try:
            shutil.copyfile(source, tmp)
            os.chmod(tmp, 0o755)
            os.rename(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        written.append(target)
    return written


def kubeconfig_doc(server: str, ca: bytes, token: str) -> dict:
    import base64

    return {"apiVersion": "v1", "kind": "Config", "current-context": "multus-context",
            "clusters": [{"name": "local", "cluster": {"server": server,
                                                        "certificate-authority-data": base64.b64encode(ca).decode()}}],
            "users": [{"name": "multus", "user": {"token": token}}],
            "contexts": [{"name": "multus-context", "context": {"cluster": "local", "user": "multus"}}]}


class Installer:
    def __init__(self, options: dict, environ: dict[str, str], emit: Callable[[str], None]) -> None:
        self.o = options
        self.environ = environ
        self.emit = emit
        self.root = options.get("host_root", "/host")
        self.seen: dict[str, str] = {}
        self.stopping = threading.Event()

    def host(self, path: str) -> str:
        """Where the host's `path` is, seen from this process."""
        return os.path.join(self.root, path.lstrip("/"))

    def install_binary(self) -> None:
        binary = self.o["binary"]
        if not self.o.get("skip_host_check"):
            version = check_host(self.root, binary)
            self.emit(f"host interpreter {interpreter_of(binary)}: Python {version}")
        for path in copy_binary(binary, self.host(self.o["cni_bin_dir"])):
            self.emit(f"installed {path}")

    def refresh_kubeconfig(self) -> bool:
        path = self.o.get("kubeconfig")
        if not path:
            return False
        account = self.o.get("service_account_dir", SERVICE_ACCOUNT_DIR)
        try:
            with open(os.path.join(account, "token")) as f:
                token = f.read().strip()
            with open(os.path.join(account, "ca.crt"), "rb") as f:
                ca = f.read()
        except OSError as exc:
            raise InstallError(f"cannot read the service account under {account}: {exc.strerror}") from None
        host, port = self.environ.get("KUBERNETES_SERVICE_HOST", ""), self.environ.get("KUBERNETES_SERVICE_PORT", "443")
        server = self.o.get("api_server") or (f"https://{'[' + host + ']' if ':' in host else host}:{port}" if host else "")
        if not server:
            raise InstallError("KUBERNETES_SERVICE_HOST is not set: give --api-server")
        data = (json.dumps(kubeconfig_doc(server, ca, token), indent=2) + "\n").encode()
        target = self.host(path)
        try:
            with open(target, "rb") as f:
                if f.read() == data:
                    return False
        except OSError:
            pass
        makedirs_private(os.path.dirname(target))
        write_atomic(target, data)
        os.chmod(target, 0o600)
        self.emit(f"wrote {target}")
        return True

    def options(self) -> dict:
        keys = {"kubeconfig": self.o.get("kubeconfig"), **(self.o.get("multus") or {})}
        if self.o["kind"] == "thick":
            keys.setdefault("daemonSocketDir", self.o.get("daemon_socket_dir", "/run/multus"))
        return keys

    def refresh_config(self) -> bool:
        conf_dir = self.host(self.o["cni_conf_dir"])
        primary = confgen.primary_file(conf_dir, self.o.get("primary", ""))
        if primary is None:
            raise InstallError(f"no primary CNI config in {conf_dir} (waiting for the cluster network to install one)")
        host_primary = os.path.join(self.o["cni_conf_dir"], os.path.basename(primary))
        self.seen["primary"], written = confgen.regenerate(primary, self.seen.get("primary"), conf_dir, self.o["kind"],
                                                           self.options(), self.o.get("cni_version", ""), host_primary)
        if written is None:
            return False
        self.emit(f"generated {written} from {primary}")
        return True

    def run(self, watch: bool, interval: float = 1.0) -> int:
        try:
            self.install_binary()
            self.refresh_kubeconfig()
            self.refresh_config()
        except (InstallError, CniError, OSError) as exc:
            self.emit(f"install failed: {exc}")
            return 1
        if not watch:
            return 0
        while not self.stopping.wait(interval):
            try:
                self.refresh_kubeconfig()
                self.refresh_config()
            except (InstallError, CniError, OSError) as exc:
                self.emit(f"waiting: {exc}")
        if self.o.get("cleanup_config_on_exit"):
            confgen.remove_generated(self.host(self.o["cni_conf_dir"]))
            self.emit("removed the generated config")
        return 0

