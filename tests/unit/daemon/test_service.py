"""A daemon request is in flight until its answer is written (drain, and the event sender, wait for that)."""

from multus.core.log import Logger
from multus.daemon.config import DaemonConfig
from multus.daemon.service import Daemon


def daemon():
    return Daemon(DaemonConfig({}, ""), None, "node", Logger("error", "", None, ""), ["multus"])


def test_the_answer_is_written_while_the_request_still_counts_as_in_flight():
    d = daemon()
    seen = []
    d.handle("cni", b"{not json", True, lambda answer: seen.append((answer.status, d.inflight, d.drain(0))))
    assert seen == [(400, 1, False)], "while the answer is written, drain() still waits for it"
    assert d.inflight == 0 and d.drain(0)


def test_a_failing_answer_write_still_ends_the_request():
    d = daemon()

    def broken(answer):
        raise BrokenPipeError()

    try:
        d.handle("cni", b"{}", True, broken)
    except BrokenPipeError:
        pass
    assert d.inflight == 0


def test_quiet_means_no_request_in_flight_for_a_moment_not_just_now():
    import time

    d = daemon()
    assert d.wait_quiet(0, settle=0.05), "a daemon that never served is quiet"
    d.handle("cni", b"{not json", True, lambda answer: None)
    assert not d.wait_quiet(0.01, settle=0.2), "an answer was just written: not quiet yet"
    started = time.monotonic()
    assert d.wait_quiet(5, settle=0.1)
    assert time.monotonic() - started < 1, "quiet once the settle time has passed, without waiting for the bound"


def test_a_request_in_flight_keeps_it_from_being_quiet():
    import threading

    d = daemon()
    entered, release = threading.Event(), threading.Event()

    def respond(answer):
        entered.set()
        release.wait(10)

    worker = threading.Thread(target=d.handle, args=("cni", b"{not json", True, respond))
    worker.start()
    try:
        assert entered.wait(10)
        assert not d.wait_quiet(0.2, settle=0)
    finally:
        release.set()
        worker.join(10)
    assert d.wait_quiet(5, settle=0)
