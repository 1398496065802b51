"""`multus install` against a temp "host" tree, as the DaemonSet's container runs it."""

import filecmp
import json
import os
import signal
import stat
import subprocess
import time

import pytest

from tests.conftest import BINARY


@pytest.fixture
def host(tmp_path):
    root = tmp_path / "host"
    (root / "etc/cni/net.d").mkdir(parents=True)
    (root / "opt/cni/bin").mkdir(parents=True)
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/python3.11").write_text("")
    (root / "usr/bin/python3").symlink_to("python3.11")
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("token-1\n")
    (account / "ca.crt").write_bytes(b"CA-PEM")
    return root, account


def install(root, account, *args, wait=True):
    argv = [str(BINARY), "install", "--host-root", str(root), "--service-account-dir", str(account),
            "--api-server", "https://10.96.0.1:443", *args]
    if not wait:
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def netd(root):
    return root / "etc/cni/net.d"


def test_thin_install_for_a_0_3_1_conf(host):
    root, account = host
    primary = {"cniVersion": "0.3.1", "name": "cbr0", "type": "bridge", "bridge": "cni0",
               "capabilities": {"portMappings": True, "bandwidth": False}}
    (netd(root) / "10-bridge.conf").write_text(json.dumps(primary))
    (netd(root) / "20-other.conf").write_text(json.dumps({"cniVersion": "0.3.1", "name": "x", "type": "ptp"}))
    out = install(root, account, "--once", "--multus-key", 'logLevel="verbose"')
    assert out.returncode == 0, out.stderr
    for name in ("multus", "multus-shim"):
        installed = root / "opt/cni/bin" / name
        assert filecmp.cmp(installed, BINARY, shallow=False) and os.access(installed, os.X_OK)
    assert json.loads((netd(root) / "00-multus.conf").read_text()) == {
        "cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus", "capabilities": {"portMappings": True},
        "kubeconfig": "/etc/cni/net.d/multus.d/multus.kubeconfig", "logLevel": "verbose", "delegates": [primary]}
    kubeconfig = netd(root) / "multus.d/multus.kubeconfig"
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    doc = json.loads(kubeconfig.read_text())
    assert doc["clusters"][0]["cluster"]["server"] == "https://10.96.0.1:443"
    assert doc["users"][0]["user"] == {"token": "token-1"}
    assert not list((root / "opt/cni/bin").glob("*.tmp*"))


def test_thick_install_for_a_1_0_0_conflist(host):
    root, account = host
    primary = {"cniVersion": "1.0.0", "name": "k8s-pod-network", "plugins": [
        {"type": "calico", "capabilities": {"ipam": False}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
        {"type": "bandwidth", "capabilities": {"bandwidth": True}}]}
    (netd(root) / "10-calico.conflist").write_text(json.dumps(primary))
    out = install(root, account, "--type", "thick", "--once")
    assert out.returncode == 0, out.stderr
    assert not (netd(root) / "00-multus.conf").exists()
    assert json.loads((netd(root) / "00-multus.conflist").read_text()) == {
        "cniVersion": "1.0.0", "name": "multus-cni-network", "plugins": [{
            "type": "multus-shim", "capabilities": {"portMappings": True, "bandwidth": True},
            "kubeconfig": "/etc/cni/net.d/multus.d/multus.kubeconfig", "daemonSocketDir": "/run/multus",
            "clusterNetwork": "/etc/cni/net.d/10-calico.conflist"}]}


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)


def test_watch_regenerates_rewrites_the_kubeconfig_and_cleans_up_on_exit(host):
    root, account = host
    primary = netd(root) / "10-bridge.conf"
    primary.write_text(json.dumps({"cniVersion": "0.3.1", "name": "a", "type": "bridge"}))
    proc = install(root, account, "--watch", "--cleanup-config-on-exit", wait=False)
    generated = netd(root) / "00-multus.conf"
    kubeconfig = netd(root) / "multus.d/multus.kubeconfig"
    try:
        wait_until(lambda: generated.exists() and kubeconfig.exists())
        primary.write_text(json.dumps({"cniVersion": "0.4.0", "name": "b", "type": "bridge"}))
        wait_until(lambda: json.loads(generated.read_text())["delegates"][0]["name"] == "b")
        assert json.loads(generated.read_text())["cniVersion"] == "0.4.0"
        (account / "token").write_text("token-2\n")
        wait_until(lambda: json.loads(kubeconfig.read_text())["users"][0]["user"]["token"] == "token-2")
        primary.write_text(json.dumps({"cniVersion": "1.0.0", "name": "c", "type": "bridge"}))
        wait_until(lambda: (netd(root) / "00-multus.conflist").exists() and not generated.exists())
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
    assert not generated.exists() and not (netd(root) / "00-multus.conflist").exists()


@pytest.mark.parametrize("layout, problem", [("none", "the host has no /usr/bin/python3"),
                                             ("3.9", "is Python 3.9; the file needs 3.11 or later")])
def test_a_host_that_cannot_run_the_file_gets_nothing(host, layout, problem):
    root, account = host
    (root / "usr/bin/python3").unlink()
    if layout == "3.9":
        (root / "usr/bin/python3.9").write_text("")
        (root / "usr/bin/python3").symlink_to("/usr/bin/python3.9")
    (netd(root) / "10-bridge.conf").write_text(json.dumps({"cniVersion": "0.3.1", "name": "a", "type": "bridge"}))
    out = install(root, account, "--once")
    assert out.returncode == 1 and problem in out.stderr, out.stderr
    assert not list((root / "opt/cni/bin").iterdir()) and not (netd(root) / "00-multus.conf").exists()
    forced = install(root, account, "--once", "--skip-host-check")
    assert forced.returncode == 0 and (root / "opt/cni/bin/multus").exists()
