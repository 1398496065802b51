"""containerd 1.6 (Debian's) driven over CRI as a kubelet would: a private instance per test session.

The CRI client is grpcio with the proto subset in cri_min.proto compiled at session start
(grpc_tools.protoc). The sandbox image is a busybox root imported with podman, whose pause
is `sleep infinity`: no registry is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

PROTO = Path(__file__).with_name("cri_min.proto")
PAUSE_IMAGE = "localhost/multus-pause:e2e"


def compile_client(out: Path):
    from grpc_tools import protoc

    out.mkdir(parents=True, exist_ok=True)
    code = protoc.main(["protoc", f"-I{PROTO.parent}", f"--python_out={out}", f"--grpc_python_out={out}",
                        str(PROTO)])
    assert code == 0, "protoc failed on cri_min.proto"
    sys.path.insert(0, str(out))
    import cri_min_pb2
    import cri_min_pb2_grpc

    return cri_min_pb2, cri_min_pb2_grpc


class Containerd:
    """A containerd of our own: its own root, state, socket, CNI bin and conf dirs."""

    def __init__(self, scratch: Path, pause_archive: Path, client_dir: Path) -> None:
        self.scratch = scratch
        self.bin = scratch / "cni-bin"
        self.netd = scratch / "cni-net.d"
        for d in (self.bin, self.netd):
            d.mkdir(parents=True, exist_ok=True)
        for plugin in Path("/usr/lib/cni").iterdir():
            (self.bin / plugin.name).symlink_to(plugin)
        self.socket = scratch / "containerd.sock"
        self.config = scratch / "containerd.toml"
        self.config.write_text(f"""version = 2
root = "{scratch}/root"
state = "{scratch}/state"
[grpc]
  address = "{self.socket}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{self.bin}"
    conf_dir = "{self.netd}"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = false
""")
        self.log = open(scratch / "containerd.log", "w")
        self.proc = subprocess.Popen(["containerd", "--config", str(self.config)], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"containerd did not start: {(scratch / 'containerd.log').read_text()[-2000:]}")
            time.sleep(0.1)
        subprocess.run(["ctr", "-a", str(self.socket), "-n", "k8s.io", "images", "import", str(pause_archive)],
                       check=True, capture_output=True, timeout=120)
        import grpc

        self.pb, grpc_mod = compile_client(client_dir)
        self.channel = grpc.insecure_channel(f"unix://{self.socket}")
        self.runtime = grpc_mod.RuntimeServiceStub(self.channel)
        self.sandboxes: list[str] = []
        self.netns_paths: list[str] = []  # each sandbox's, removed at close if containerd left it (a failed DEL)

    def version(self):
        return self.runtime.Version(self.pb.VersionRequest(version="v1"), timeout=30)

    def run_pod(self, name: str, namespace: str, uid: str, annotations: dict[str, str] | None = None) -> str:
        meta = self.pb.PodSandboxMetadata(name=name, uid=uid, namespace=namespace, attempt=0)
        config = self.pb.PodSandboxConfig(metadata=meta, hostname=name, log_directory=str(self.scratch / "logs"),
                                          annotations=annotations or {}, labels={"app": name},
                                          linux=self.pb.LinuxPodSandboxConfig())
        sandbox = self.runtime.RunPodSandbox(self.pb.RunPodSandboxRequest(config=config), timeout=120).pod_sandbox_id
        self.sandboxes.append(sandbox)
        self.netns_paths.append(self.netns_of(sandbox))
        return sandbox

    def netns_of(self, sandbox: str) -> str:
        status = self.runtime.PodSandboxStatus(self.pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox, verbose=True),
                                               timeout=30)
        info = json.loads(status.info["info"])
        for ns in info["runtimeSpec"]["linux"]["namespaces"]:
            if ns["type"] == "network":
                return ns["path"]
        raise AssertionError("sandbox has no network namespace")

    def stop_and_remove(self, sandbox: str) -> None:
        self.runtime.StopPodSandbox(self.pb.StopPodSandboxRequest(pod_sandbox_id=sandbox), timeout=120)
        self.runtime.RemovePodSandbox(self.pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox), timeout=120)
        if sandbox in self.sandboxes:
            self.sandboxes.remove(sandbox)

    def close(self) -> None:
        for sandbox in list(self.sandboxes):
            try:
                self.stop_and_remove(sandbox)
            except Exception:
                pass
        self.channel.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        # containerd leaves its shim mounts and sandbox netns behind it; unmount before removing the tree.
        for line in reversed(Path("/proc/self/mounts").read_text().splitlines()):
            target = line.split()[1]
            if target.startswith(str(self.scratch)):
                subprocess.run(["umount", "-l", target], check=False)
        shutil.rmtree(self.scratch, ignore_errors=True)
        for path in self.netns_paths:
            if os.path.dirname(path) in ("/run/netns", "/var/run/netns") and os.path.exists(path):
                subprocess.run(["ip", "netns", "del", os.path.basename(path)], check=False, capture_output=True)


def pause_archive(scratch: Path, rootfs_tarball: Path, podman_env: dict[str, str]) -> Path:
    """A sandbox image whose only process sleeps: busybox imported with podman, saved for ctr."""
    out = scratch / "pause.tar"
    env = dict(os.environ, **podman_env)
    subprocess.run(["podman", "import", "-q", "--change", 'CMD=["/bin/sleep","infinity"]', str(rootfs_tarball),
                    PAUSE_IMAGE], check=True, capture_output=True, env=env, timeout=180)
    subprocess.run(["podman", "save", "-q", "--format", "docker-archive", "-o", str(out), PAUSE_IMAGE], check=True,
                   capture_output=True, env=env, timeout=180)
    subprocess.run(["podman", "rmi", "-f", PAUSE_IMAGE], check=False, capture_output=True, env=env, timeout=180)
    return out
