"""Atomic writes: every byte lands, a failure leaves no temp file, temp names differ per thread."""

import errno
import os
import threading

import pytest

from multus import fileutil


def test_short_writes_are_continued(tmp_path, monkeypatch):
    real_write = os.write
    monkeypatch.setattr(fileutil.os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))
    payload = bytes(range(256)) * 40
    fileutil.write_atomic(str(tmp_path / "f"), payload)
    assert (tmp_path / "f").read_bytes() == payload


@pytest.mark.parametrize("failing", ["write", "fsync", "rename"])
def test_a_failed_write_removes_its_temp_file_and_keeps_the_old_content(tmp_path, monkeypatch, failing):
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def boom(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileutil.os, failing, boom)
    with pytest.raises(OSError):
        fileutil.write_atomic(str(target), b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f"]


def test_temp_names_are_unique_per_thread():
    names = []
    together = threading.Barrier(4)  # alive at the same time, as the daemon's request threads are

    def name():
        names.append(fileutil.temp_name("/x/state.json"))
        together.wait()

    threads = [threading.Thread(target=name) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 4 and all(n.startswith(f"/x/state.json.tmp{os.getpid()}.") for n in names)


def test_sweep_matches_only_its_own_temp_files(tmp_path):
    for name in ("eth0.json", "eth0.json.tmp1.2", "eth0.json.json.tmp1.2", "net1.json.tmp3.4", "eth0.pids"):
        (tmp_path / name).write_text("x")
    removed = fileutil.sweep_temp_files(str(tmp_path), ("eth0.json",))
    assert [os.path.basename(p) for p in removed] == ["eth0.json.tmp1.2"]
    assert sorted(os.listdir(tmp_path)) == ["eth0.json", "eth0.json.json.tmp1.2", "eth0.pids", "net1.json.tmp3.4"]
