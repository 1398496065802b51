"""The attachment state's two files: the durable first version, and the results beside it."""

import json
import os

import pytest

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
