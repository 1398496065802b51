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
