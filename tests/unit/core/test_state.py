"""The attachment state's two files: the durable first version, and the results beside it; the
container lock, which also lists the delegate processes its holder started."""

import errno
import json
import os
import subprocess
import time

import pytest

from multus.cni.errors import CniError
from multus.core.delegate import Delegate
from multus.core.state import CacheEntry, StateStore
from multus.fileutil import write_new


def entry(count=2):
    delegates = [Delegate(f"n{i}", f"delegates[{i}]", i == 0, {"cniVersion": "1.0.0", "name": f"n{i}", "type": "bridge"},
                          ifname="eth0" if i == 0 else f"net{i}") for i in range(count)]
    return CacheEntry("cid", "eth0", "/var/run/netns/x", "", "multus", delegates)


def results(count=2):
    return [{"cniVersion": "1.0.0", "interfaces": [{"name": f"if{i}"}]} for i in range(count)]


def test_results_are_loaded_from_their_own_file(tmp_path):
    store = StateStore(str(tmp_path))
    e = entry()
    store.save(e)
    assert [d.result for d in store.load("cid", "eth0").delegates] == [None, None]
    for d, r in zip(e.delegates, results(), strict=True):
        d.result = r
    store.save(e, update=True)
    assert [d.result for d in store.load("cid", "eth0").delegates] == results()
    assert json.loads((tmp_path / "attachments" / "cid" / "eth0.json").read_text())["delegates"][0]["result"] is None


@pytest.mark.parametrize("content", [b"{cut sh", b"[]", b'[{"a": 1}, null]', b"[1, 2]", b'{"a": 1}',
                                     "same id, one result", "same id, not objects", "another attachment's id"])
def test_a_results_file_that_does_not_fit_loses_only_the_results(tmp_path, content):
    store = StateStore(str(tmp_path))
    e = entry()
    store.save(e)
    if isinstance(content, str):
        key = "not-this-one" if content == "another attachment's id" else e.attachment_id
        listed = {"same id, one result": results(1), "same id, not objects": [1, 2]}.get(content, results())
        content = json.dumps({"attachmentId": key, "results": listed}).encode()
    (tmp_path / "attachments" / "cid" / "eth0.result").write_bytes(content)
    loaded = store.load("cid", "eth0")
    assert [d.ifname for d in loaded.delegates] == ["eth0", "net1"]
    assert [d.result for d in loaded.delegates] == [None, None]


def test_no_results_file_outlives_or_predates_its_attachment(tmp_path):
    store = StateStore(str(tmp_path))
    stale = tmp_path / "attachments" / "cid" / "eth0.result"
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps(results()))
    store.save(entry())
    assert not stale.exists(), "a new attachment's first version removes results left by an old one"
    e = entry()
    for d, r in zip(e.delegates, results(), strict=True):
        d.result = r
    store.save(e, update=True)
    store.remove("cid", "eth0")
    assert not (tmp_path / "attachments" / "cid").exists()


def test_write_new_refuses_an_existing_file_and_removes_what_it_could_not_finish(tmp_path, monkeypatch):
    target = tmp_path / "f"
    target.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        write_new(str(target), b"new")
    assert target.read_bytes() == b"old"

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError):
        write_new(str(tmp_path / "g"), b"new")
    assert sorted(os.listdir(tmp_path)) == ["f"]


def test_state_of_the_older_layout_keeps_its_inline_results(tmp_path):
    e = entry()
    for d, r in zip(e.delegates, results(), strict=True):
        d.result = r
    path = tmp_path / "attachments" / "cid" / "eth0.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(e.to_json()))
    assert [d.result for d in StateStore(str(tmp_path)).load("cid", "eth0").delegates] == results()


@pytest.fixture
def sleeper():
    """Starts delegate stand-ins, each in its own process group as cni.invoke starts them; every
    one is killed and reaped afterwards."""
    started = []

    def start():
        started.append(subprocess.Popen(["sleep", "60"], process_group=0))
        return started[-1]

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def start_ticks(pid):
    """The process's real start time, as /proc/<pid>/stat gives it."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def listed(*procs):
    return "".join(f"\n{p.pid} {start_ticks(p.pid)}" for p in procs)


def lock_file(tmp_path, content):
    """A lock file as a killed holder left it."""
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / "cid").write_bytes(content.encode())


def test_a_killed_holders_delegates_are_stopped_by_the_next_holder_only(tmp_path, sleeper):
    live, finished = sleeper(), sleeper()
    pid = os.fork()
    if pid == 0:  # a request killed while it holds the lock: no __exit__ runs
        try:
            store = StateStore(str(tmp_path))
            store.lock("cid").__enter__()
            store.record_process("cid", live.pid)
            store.record_process("cid", finished.pid)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    finished.kill()
    finished.wait()
    lock = tmp_path / "locks" / "cid"
    assert lock.read_text().count("\n") == 2
    store = StateStore(str(tmp_path))
    with store.lock("other"):
        assert store.stop_processes("other") == [], "another container's lock lists nothing"
    with store.lock("cid"):
        assert store.stop_processes("cid") == [live.pid]
        assert live.wait(timeout=5) == -9
        assert lock.read_bytes() == b"", "the list is emptied once its processes are stopped"


def test_a_reused_pid_is_never_stopped(tmp_path, sleeper):
    """A recorded pid whose start time is not the recorded one is another process now."""
    bystander = sleeper()
    lock_file(tmp_path, f"\n{bystander.pid} {int(start_ticks(bystander.pid)) - 500}")
    store = StateStore(str(tmp_path))
    with store.lock("cid"):
        assert store.stop_processes("cid") == []
    assert bystander.poll() is None


def test_a_finished_request_leaves_an_empty_list_or_no_lock_file(tmp_path, sleeper):
    store = StateStore(str(tmp_path))
    lock = tmp_path / "locks" / "cid"
    delegate = sleeper()
    with store.lock("cid"):
        assert store.stop_processes("cid") == []
        store.record_process("cid", delegate.pid)
        store.save(entry())
        assert lock.read_text().startswith(f"\n{delegate.pid} ")
    assert lock.read_bytes() == b"", "state remains: the lock file stays, its list emptied"
    with store.lock("cid"):
        assert store.stop_processes("cid") == []  # as every request does first
        store.record_process("cid", delegate.pid)
        store.remove("cid", "eth0")
    assert not lock.exists(), "the container's last state went: so did its lock file"
    store.record_process("cid", delegate.pid)  # outside the lock (a DEL on a sick disk): nothing is written
    assert not lock.exists()


def test_a_holder_that_did_not_stop_what_it_found_leaves_the_list(tmp_path, sleeper):
    """A request that ran delegates without stopping a killed one's keeps that list for the next."""
    orphan, own = sleeper(), sleeper()
    lock_file(tmp_path, listed(orphan))
    store = StateStore(str(tmp_path))
    store.save(entry())
    with store.lock("cid"):
        store.record_process("cid", own.pid)
    own.kill()
    own.wait()
    with store.lock("cid"):
        assert store.stop_processes("cid") == [orphan.pid]


def test_a_broken_list_stops_only_whole_lines(tmp_path, sleeper):
    """A line a short write cut, garbage, and digits that are not ASCII are skipped, never fatal."""
    live = sleeper()
    lock_file(tmp_path, f"\n12{listed(live)}\ngarbage\n\u00b2 \u00b2\n")
    store = StateStore(str(tmp_path))
    with store.lock("cid"):
        assert store.stop_processes("cid") == [live.pid]


def test_a_del_without_the_lock_stops_a_killed_holders_list_never_a_live_ones(tmp_path, sleeper):
    live = sleeper()
    lock_file(tmp_path, listed(live))
    holder = StateStore(str(tmp_path))
    with holder.lock("cid"):  # a request still running holds it: its delegates are its own
        assert StateStore(str(tmp_path)).stop_processes("cid") == []
        assert live.poll() is None
    assert StateStore(str(tmp_path)).stop_processes("cid") == [live.pid]
    assert live.wait(timeout=5) == -9


def before_this_boot(path):
    """Dates a file as last written a minute before the machine booted."""
    booted = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    os.utime(path, (booted - 60, booted - 60))


@pytest.mark.parametrize("held", [True, False], ids=["holder", "del-without-the-lock"])
def test_a_list_from_before_this_boot_stops_nothing(tmp_path, sleeper, held):
    """Ticks since boot start again at each boot: an old list's pids and start times can match
    processes of this boot that have nothing to do with the container."""
    bystander = sleeper()
    lock_file(tmp_path, listed(bystander))
    before_this_boot(tmp_path / "locks" / "cid")
    store = StateStore(str(tmp_path))
    if held:
        with store.lock("cid"):
            assert store.stop_processes("cid") == []
        assert not (tmp_path / "locks" / "cid").exists(), "no state: the old list's lock file goes"
    else:
        assert store.stop_processes("cid") == []
    assert bystander.poll() is None


@pytest.mark.parametrize("lag, stopped", [(0, True), (-1, True), (60, True), (-3, False), (150, False)])
def test_a_delegate_is_recognised_by_a_start_shortly_before_its_recording(tmp_path, sleeper, lag, stopped):
    """Recorded `lag` ticks after the process started: a recording thread that waited for a CPU
    (60 ticks) still finds its delegate; a process that started after the recording (-3) reuses
    the pid, and one that started long before it (150) cannot have been forked just then."""
    proc = sleeper()
    lock_file(tmp_path, f"\n{proc.pid} {int(start_ticks(proc.pid)) + lag}")
    store = StateStore(str(tmp_path))
    with store.lock("cid"):
        assert store.stop_processes("cid") == ([proc.pid] if stopped else [])
    assert (proc.wait(timeout=5) == -9) if stopped else proc.poll() is None


def test_a_killed_earlier_multus_list_beside_the_state_is_stopped_too(tmp_path, sleeper):
    """Before the lists moved into the lock file, each attachment kept `<ifname>.pids` ("pid ticks"
    lines) in the container's directory, under the same lock: an upgrade must not forget them."""
    orphan = sleeper()
    container = tmp_path / "attachments" / "cid"
    container.mkdir(parents=True)
    (container / "net1.pids").write_text(f"{orphan.pid} {start_ticks(orphan.pid)}\n")
    store = StateStore(str(tmp_path))
    with store.lock("cid"):
        assert store.stop_processes("cid") == [orphan.pid]
    assert orphan.wait(timeout=5) == -9
    assert not (container / "net1.pids").exists()


def test_a_lock_that_cannot_be_taken_keeps_no_descriptor(tmp_path, monkeypatch):
    """A descriptor left open would hold the flock: in a daemon, every later request on the
    container would wait for it forever."""
    import fcntl

    def refuse(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refuse)
    before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(CniError) as raised:
        StateStore(str(tmp_path)).lock("cid").__enter__()
    assert "No locks available" in raised.value.msg
    assert set(os.listdir("/proc/self/fd")) == before
