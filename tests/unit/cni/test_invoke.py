"""Running plugins: an observer that fails leaks nothing; process groups as each caller needs."""

import os
import time

import pytest

from multus.cni import invoke
from multus.cni.env import CmdArgs


def script(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def open_fds():
    return set(os.listdir("/proc/self/fd"))


def test_a_failing_observer_kills_the_child_and_closes_its_pipes(tmp_path):
    pidfile = tmp_path / "pid"
    plugin = script(tmp_path, "slow", f"echo $$ > {pidfile}; exec sleep 300")

    class Broken:
        def spawned(self, pid):
            deadline = time.monotonic() + 10
            while not pidfile.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            raise OSError(28, "No space left on device")

        def exited(self, *args):
            raise AssertionError("not reached")

    before = open_fds()
    with pytest.raises(OSError):
        invoke.exec_plugin([str(plugin)], b"{}", dict(os.environ), timeout=30, observer=Broken())
    assert open_fds() == before
    pid = int(pidfile.read_text())
    assert not os.path.exists(f"/proc/{pid}"), "the plugin was killed and reaped"


def pgid_of_child(tmp_path, **kw):
    plugin = script(tmp_path, f"pg{len(kw)}", "cut -d' ' -f5 /proc/$$/stat")
    return int(invoke.exec_plugin([str(plugin)], b"", dict(os.environ), **kw))


def test_top_level_delegates_lead_their_own_group_helpers_children_do_not(tmp_path):
    assert pgid_of_child(tmp_path) != os.getpgid(0)
    assert pgid_of_child(tmp_path, own_group=False) == os.getpgid(0)
    plugin = script(tmp_path, "ipamish", "cat >/dev/null; cut -d' ' -f5 /proc/$$/stat")
    cmd = CmdArgs("ADD", "c", "/proc/self/ns/net", "eth0", "", [str(tmp_path)], dict(os.environ), b"")
    assert int(invoke.delegate(plugin.name, {}, cmd, "ADD")) == os.getpgid(0)
