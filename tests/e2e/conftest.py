"""Podman (CNI backend, runc, cgroupfs) running containers whose network plugin is build/multus."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BINARY, ip, tag

IMAGE = "localhost/multus-e2e:latest"


# Directories the runtimes and host-local create on first use and leave behind empty: their libcni
# cache (containerd, podman) and host-local's default data directory. Deepest first.
RUNTIME_DIRS = [Path("/var/lib/cni/results"), Path("/var/lib/cni/networks"), Path("/var/lib/cni")]


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def runtime_dirs_removed():
    """A test leaves the machine as it found it, down to the empty directories its runtime made; one
    that still holds a file stays, for the test's own assertions (and the next run) to show."""
    made = [d for d in RUNTIME_DIRS if not d.exists()]
    yield
    for d in made:
        try:
            d.rmdir()
        except OSError:
            pass


def busybox_image(root: Path) -> Path:
    """A two-megabyte image from Debian's busybox-static: no registry needed."""
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "run"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    tarball = root.parent / "image.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tarball), "."], check=True)
    return tarball


class Podman:
    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.plugins = scratch / "plugins"
        self.netd = scratch / "net.d"
        self.state = scratch / "state"
        self.ipam = scratch / "ipam"
        for d in (self.plugins, self.netd, self.state, self.ipam):
            d.mkdir(parents=True, exist_ok=True)
        shutil.copy(BINARY, self.plugins / "multus")
        self.conf = scratch / "containers.conf"
        self.conf.write_text(f"""[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[network]
network_backend = "cni"
cni_plugin_dirs = ["{self.plugins}", "/usr/lib/cni"]
network_config_dir = "{self.netd}"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
""")
        self.links: list[str] = []
        self.containers: list[str] = []

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = dict(os.environ, CONTAINERS_CONF=str(self.conf))
        proc = subprocess.run(["podman", *args], capture_output=True, text=True, env=env, timeout=180)
        if check and proc.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def multus_network(self, name: str, subnet_base: str) -> str:
        """A conflist whose only plugin is build/multus with bridge (master) and macvlan delegates."""
        bridge, master = f"pb{tag()}", f"pv{tag()}"
        ip("link", "add", master, "type", "veth", "peer", "name", f"{master}p")
        ip("link", "set", master, "up")
        ip("link", "set", f"{master}p", "up")
        self.links += [bridge, master]
        ipam = str(self.ipam)
        conflist = {"cniVersion": "1.0.0", "name": name, "plugins": [{
            "type": "multus", "cniDir": str(self.state), "logFile": str(self.scratch / "multus.log"),
            "logLevel": "verbose", "logToStderr": False,
            "delegates": [
                {"name": f"{name}-br", "type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
                 "ipam": {"type": "host-local", "subnet": f"{subnet_base}.0.0/24", "dataDir": ipam,
                          "routes": [{"dst": "0.0.0.0/0"}]}},
                {"name": f"{name}-mv", "type": "macvlan", "master": master, "mode": "bridge",
                 "ipam": {"type": "host-local", "subnet": f"{subnet_base}.1.0/24", "dataDir": ipam}},
            ]}]}
        (self.netd / f"{name}.conflist").write_text(json.dumps(conflist))
        return name

    def run_detached(self, *networks: str) -> str:
        name = f"me2e-{tag()}"
        self.containers.append(name)
        self("run", "-d", "--name", name, "--network", ",".join(networks), IMAGE, "sleep", "300")
        return name

    def addresses(self, container: str) -> dict[str, str]:
        out = self("exec", container, "ip", "-o", "-4", "addr").stdout
        return {line.split()[1]: line.split()[3] for line in out.splitlines()}

    def cleanup(self) -> None:
        for name in self.containers:
            self("rm", "-f", "-t", "0", name, check=False)
        for link in self.links:
            ip("link", "del", link, check=False)


@pytest.fixture(scope="session")
def podman_image(tmp_path_factory):
    assert shutil.which("podman"), "install podman, runc and busybox-static (./build.sh deps)"
    assert BINARY.exists(), "build/multus is missing: run ./build.sh first"
    scratch = tmp_path_factory.mktemp("image")
    tarball = busybox_image(scratch / "root")
    Podman(scratch)("import", "-q", str(tarball), IMAGE)
    yield IMAGE
    Podman(scratch)("rmi", "-f", IMAGE, check=False)


@pytest.fixture
def podman(tmp_path, podman_image):
    runtime = Podman(tmp_path)
    yield runtime
    runtime.cleanup()


@pytest.fixture(scope="session", autouse=True)
def _current_build():
    from tests.conftest import require_current_build

    require_current_build()


@pytest.fixture(scope="session")
def containerd(tmp_path_factory):
    """One private containerd for the session (CRI v1 over grpcio), with a pause image imported."""
    from tests.e2e.cri import Containerd, pause_archive

    assert shutil.which("containerd") and shutil.which("ctr"), "install containerd (./build.sh deps)"
    assert shutil.which("podman"), "install podman, runc and busybox-static (./build.sh deps)"
    scratch = tmp_path_factory.mktemp("containerd")
    podman = Podman(scratch / "podman")
    tarball = busybox_image(scratch / "image" / "root")
    archive = pause_archive(scratch, tarball, {"CONTAINERS_CONF": str(podman.conf)})
    runtime = Containerd(Path(f"/run/multus-e2e-{tag()}"), archive, scratch / "client")
    yield runtime
    runtime.close()
