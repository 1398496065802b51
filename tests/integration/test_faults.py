"""Fault injection: misbehaving delegates, a killed multus, broken state, an unwritable disk."""

import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import (
    BINARY,
    FAKE_PLUGINS,
    attach_env,
    cni_env,
    ip,
    links_in,
    reservations,
    run_binary,
    run_inprocess,
    tag,
)


def script(tmp_path, name, add_body, other="exit 0"):
    path = tmp_path / "plugins" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(f'#!/bin/sh\ncat >/dev/null\nif [ "$CNI_COMMAND" = ADD ]; then\n{add_body}\nfi\n{other}\n')
    path.chmod(0o755)
    return str(path.parent)


def test_exit_zero_with_an_error_body_is_an_error_and_rolls_back(netns, networks, tmp_path):
    path = script(tmp_path, "liar", 'echo \'{"cniVersion":"1.0.0","code":11,"msg":"busy, come back"}\'; exit 0')
    conf = networks.multus(networks.bridge(), {"type": "liar"})
    added = run_inprocess("ADD", conf, **attach_env(netns), CNI_PATH=f"{path}:/usr/lib/cni")
    assert added.json["code"] == 11 and "liar" in added.json["msg"] and "busy, come back" in added.json["msg"]
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []


def test_hung_delegate_is_killed_with_its_children_and_rolled_back(netns, networks, tmp_path):
    pids = tmp_path / "pids"
    path = script(tmp_path, "hang", f'sleep 300 & echo "$$ $!" > {pids}; wait')
    conf = networks.multus(networks.bridge(), networks.macvlan(), {"type": "hang"}, delegateTimeout=1)
    started = time.monotonic()
    added = run_inprocess("ADD", conf, **attach_env(netns), CNI_PATH=f"{path}:/usr/lib/cni")
    assert time.monotonic() - started < 60
    assert added.json["code"] == 11 and "did not answer within 1s" in added.json["msg"]
    assert "hang" in added.json["msg"]
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []
    for pid in map(int, pids.read_text().split()):
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()


@pytest.mark.parametrize("first", ["DEL", "CHECK"])
def test_multus_killed_mid_add_then_del_removes_everything(netns, networks, tmp_path, first):
    """The runtime kills multus (its timeout) while the third delegate is still running; the next
    request on the container, a DEL or a CHECK, stops it first."""
    marker = tmp_path / "reached"
    path = script(tmp_path, "stall", f"echo $$ > {marker}; sleep 300")
    conf = networks.multus(networks.bridge(), networks.macvlan(), {"type": "stall"}, concurrentDelegates=False)
    env = cni_env("ADD", **attach_env(netns), CNI_PATH=f"{path}:/usr/lib/cni")
    proc = subprocess.Popen([str(BINARY)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    proc.stdin.write(json.dumps(conf).encode())
    proc.stdin.close()
    stall = None
    try:
        deadline = time.monotonic() + 60
        while not (marker.exists() and marker.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        stall = int(marker.read_text())
        assert {"eth0", "net1"} <= set(links_in(netns))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert os.path.exists(f"/proc/{stall}"), "the orphaned delegate outlives multus"
        after = run_binary(first, conf, **attach_env(netns), CNI_PATH=f"{path}:/usr/lib/cni")
        assert "left running by an interrupted request" in after.stderr, after
        assert not os.path.exists(f"/proc/{stall}") or "zombie" in open(f"/proc/{stall}/status").read().lower()
        deleted = run_binary("DEL", conf, **attach_env(netns), CNI_PATH=f"{path}:/usr/lib/cni")
        assert deleted.code == 0, deleted
        assert links_in(netns) == ["lo"]
        assert reservations(networks.ipam_dir) == []
        assert not list((networks.state_dir / "attachments").iterdir())
    finally:
        if stall and os.path.exists(f"/proc/{stall}"):
            os.kill(stall, signal.SIGKILL)


def test_existing_interface_is_never_touched(netns, networks):
    ip("-n", netns, "link", "add", "net1", "type", "veth", "peer", "name", "other1")
    conf = networks.multus(networks.bridge(), networks.macvlan())
    added = run_inprocess("ADD", conf, **attach_env(netns))
    assert added.code == 1 and "net1 already exists" in added.json["msg"]
    assert set(links_in(netns)) == {"lo", "net1", "other1"}  # untouched, and nothing added
    assert reservations(networks.ipam_dir) == []
    # Refused before any state was written: no attachment, and no lock file left behind.
    assert [p for p in networks.state_dir.rglob("*") if not p.is_dir()] == []


@pytest.mark.parametrize("bad, code", [("/var/run/netns/does-not-exist", 8), ("/etc/hostname", 8),
                                       ("/proc/self/ns/mnt", 8), ("", 4)])
def test_add_needs_a_real_network_namespace(networks, bad, code):
    env = attach_env("x", CNI_NETNS=bad)
    added = run_inprocess("ADD", networks.multus(networks.bridge()), **env)
    assert (added.code, added.json["code"]) == (1, code), added


@pytest.fixture
def small_mount(tmp_path):
    mounts = []

    def mount(*options: str):
        target = tmp_path / f"mnt{len(mounts)}"
        target.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(target)], check=True)
        mounts.append(target)
        return target

    yield mount
    for target in mounts:
        subprocess.run(["umount", "-l", str(target)], check=False)


def fill(directory):
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def remount(target, *options):
    subprocess.run(["mount", "-o", ",".join(("remount", *options)), str(target)], check=True)


def test_read_only_cache_fails_add_before_any_delegate(netns, networks, small_mount, recorder):
    ro = small_mount("ro", "size=1m")
    conf = networks.multus({"type": "recorder"}, cniDir=str(ro / "state"))
    added = run_inprocess("ADD", conf, **attach_env(netns), CNI_PATH=str(FAKE_PLUGINS))
    assert (added.code, added.json["code"]) == (1, 5), added
    assert str(ro / "state") in added.json["msg"]
    assert recorder() == []


def test_full_disk_fails_add_before_any_delegate(netns, networks, small_mount, recorder):
    full = small_mount("size=64k")
    (full / "state").mkdir()
    fill(full)
    conf = networks.multus({"type": "recorder"}, cniDir=str(full / "state"))
    added = run_inprocess("ADD", conf, **attach_env(netns), CNI_PATH=str(FAKE_PLUGINS))
    assert (added.code, added.json["code"]) == (1, 5), added
    assert "No space left on device" in added.json["msg"] and str(full / "state") in added.json["msg"]
    assert recorder() == []
    assert not [p for p in (full / "state").rglob("*") if p.is_file()], "no temp or state file left"


def test_del_succeeds_on_a_full_cache_disk(netns, networks, small_mount, recorder):
    disk = small_mount("size=256k")
    conf = networks.multus({"type": "recorder"}, {"type": "recorder"}, cniDir=str(disk / "state"))
    env = dict(attach_env(netns), CNI_PATH=str(FAKE_PLUGINS))
    assert run_binary("ADD", conf, **env).code == 0
    fill(disk)
    deleted = run_binary("DEL", conf, **env)
    assert deleted.code == 0, deleted
    assert [c["env"]["CNI_COMMAND"] for c in recorder()] == ["ADD", "ADD", "DEL", "DEL"]
    assert not [p for p in (disk / "state").rglob("*") if p.is_file()], "no .tmp, .pids or state file left"


def test_del_succeeds_on_a_read_only_cache_disk_and_a_later_del_clears_the_state(netns, networks, small_mount,
                                                                              recorder):
    disk = small_mount("size=256k")
    conf = networks.multus({"type": "recorder"}, {"type": "recorder"}, cniDir=str(disk / "state"))
    env = dict(attach_env(netns), CNI_PATH=str(FAKE_PLUGINS))
    assert run_binary("ADD", conf, **env).code == 0
    remount(disk, "ro")
    deleted = run_binary("DEL", conf, **env)
    assert deleted.code == 0, deleted
    assert "a later DEL or GC removes it" in deleted.stderr
    assert [c["env"]["CNI_COMMAND"] for c in recorder()] == ["ADD", "ADD", "DEL", "DEL"]
    remount(disk, "rw")
    assert run_binary("DEL", conf, **env).code == 0
    assert not [p for p in (disk / "state").rglob("*") if p.is_file()]


KILLER = """
import os, signal, stat, sys
sys.path.insert(0, os.environ.pop("KILL_REPO"))
point, renames, fsyncs = os.environ.pop("KILL_POINT"), [], []
real_rename, real_fsync = os.rename, os.fsync

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def rename(src, dst):
    renames.append(dst)
    if point == "results-update" and len(renames) == 1:
        die()  # every delegate ran; the results file's temp is complete, not yet renamed
    return real_rename(src, dst)

def fsync(fd):
    is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
    if point == "written" and not is_dir and not fsyncs:
        die()  # the state file is written in place, not yet durable; no delegate ran
    fsyncs.append(fd)
    real_fsync(fd)
    if point == "durable" and is_dir:
        die()  # the state file is durable; no delegate ran yet

os.rename, os.fsync = rename, fsync
from multus import entry
sys.exit(entry.main())
"""


@pytest.mark.parametrize("point", ["written", "durable", "results-update"])
def test_sigkill_at_each_write_of_add_then_del_leaves_no_file(netns, networks, point):
    import sys

    from tests.conftest import REPO

    conf = networks.multus(networks.bridge(), networks.macvlan())
    env = cni_env("ADD", **attach_env(netns), KILL_POINT=point, KILL_REPO=str(REPO))
    proc = subprocess.run([sys.executable, "-c", KILLER], input=json.dumps(conf).encode(), env=env,
                          capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    deleted = run_binary("DEL", conf, **attach_env(netns))
    assert deleted.code == 0, deleted
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []
    assert not [p for p in networks.state_dir.rglob("*") if p.is_file()], list(networks.state_dir.rglob("*"))


def test_gc_sweeps_temp_files_older_than_a_minute(networks, recorder):
    conf = networks.multus({"type": "recorder", "cniVersion": "1.1.0"}, version="1.1.0")
    container = networks.state_dir / "attachments" / "gone"
    container.mkdir(parents=True)
    old, young = container / "eth0.json.tmp123.1", container / "eth0.json.tmp124.1"
    for path in (old, young):
        path.write_text("{")
    os.utime(old, (time.time() - 120, time.time() - 120))
    assert run_inprocess("GC", conf, CNI_PATH=str(FAKE_PLUGINS)).code == 0
    assert not old.exists() and young.exists()


def test_state_files_are_private(netns, networks, tmp_path):
    conf = networks.multus(networks.bridge(), cniDir=str(tmp_path / f"fresh-{tag()}" / "cache"))
    assert run_inprocess("ADD", conf, **attach_env(netns)).code == 0
    root = tmp_path.glob("fresh-*/cache")
    [cache] = list(root)
    modes = {p.relative_to(cache).as_posix(): p.stat().st_mode & 0o777 for p in [cache, *cache.rglob("*")]}
    assert all(mode == (0o700 if (cache / name).is_dir() else 0o600) for name, mode in modes.items()), modes
    assert run_inprocess("DEL", conf, **attach_env(netns)).code == 0
