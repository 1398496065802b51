"""The daemon's socket: HTTP as its clients speak it, and threads that wait in accept() themselves."""

import io
import json
import socket
import threading
import time

import pytest

from multus.core.log import Logger
from multus.daemon import server
from multus.daemon.service import Answer


class StubDaemon:
    """What the server asks of the daemon: readiness, and `handle` for /cni and /delegate."""

    def __init__(self) -> None:
        self.logged = io.StringIO()
        self.log = Logger("error", "", self.logged, "")
        self.ready = True
        self.calls: list[tuple[str, bytes, bool]] = []
        self.release = threading.Event()
        self.release.set()

    def handle(self, handler, body, raw, respond):
        self.calls.append((handler, body, raw))
        self.release.wait(10)
        respond(Answer(200, b'{"handler":"' + handler.encode() + b'"}'))


@pytest.fixture
def served(tmp_path):
    daemon = StubDaemon()
    path = str(tmp_path / "sock" / "multus.sock")
    listening = server.serve_socket(daemon, path)
    yield daemon, listening, path
    listening.stop()


def connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(10)
    sock.connect(path)
    return sock


def exchange(path: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with connect(path) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    line, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    return int(line.split()[1]), headers, body


def post(path: str, url: str, body: bytes, extra: str = "") -> tuple[int, dict[str, str], bytes]:
    return exchange(path, f"POST {url} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode()
                    + body)


def test_a_cni_request_reaches_the_daemon_and_its_answer_the_client(served):
    daemon, _, path = served
    status, headers, body = post(path, "/cni", b'{"env":{}}', "X-Multus-Raw-Result: 1\r\n")
    assert (status, body) == (200, b'{"handler":"cni"}')
    assert headers["content-length"] == str(len(body)) and headers["connection"] == "close"
    assert headers["content-type"] == "application/json"
    assert daemon.calls == [("cni", b'{"env":{}}', True)]
    post(path, "/delegate", b"x")
    assert daemon.calls[-1] == ("delegate", b"x", False), "without the header: upstream's wrapped result"


def test_health_readiness_and_unknown_paths(served):
    daemon, _, path = served
    assert exchange(path, b"GET /healthz HTTP/1.1\r\n\r\n")[::2] == (200, b"ok\n")
    assert exchange(path, b"GET /readyz?verbose HTTP/1.1\r\n\r\n")[::2] == (200, b"ok\n")
    daemon.ready = False
    assert exchange(path, b"GET /readyz HTTP/1.1\r\n\r\n")[::2] == (500, b"not ready\n")
    assert exchange(path, b"GET /nothing HTTP/1.1\r\n\r\n")[0] == 404
    assert exchange(path, b"GET /cni HTTP/1.1\r\n\r\n")[0] == 404, "a CNI request is a POST"
    assert daemon.calls == []


def test_a_body_sent_in_several_writes_arrives_whole(served):
    daemon, _, path = served
    body = b"y" * 300_000
    with connect(path) as sock:
        sock.sendall(f"POST /cni HTTP/1.1\r\nContent-Length: {len(body)}\r\n".encode())
        time.sleep(0.05)
        sock.sendall(b"\r\n" + body[:1000])
        time.sleep(0.05)
        sock.sendall(body[1000:])
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    assert daemon.calls == [("cni", body, False)]


def test_expect_100_continue_gets_its_interim_answer_before_the_body_is_sent(served):
    daemon, _, path = served
    with connect(path) as sock:
        sock.sendall(b"POST /cni HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"body")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    assert daemon.calls == [("cni", b"body", False)]


@pytest.mark.parametrize("raw, status", [
    (b"POST /cni HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n", 411),
    (b"POST /cni HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (server.MAX_BODY + 1), 413),
    (b"POST /cni HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400),
    (b"POST /cni HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    (b"GET /healthz\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * (server.MAX_HEAD + 10) + b"\r\n\r\n", 431),
])
def test_broken_http_is_refused_with_its_status_and_never_reaches_the_daemon(served, raw, status):
    daemon, _, path = served
    code, headers, body = exchange(path, raw)
    assert code == status and json.loads(body)["msg"]
    assert daemon.calls == []


def test_a_client_that_sends_nothing_holds_up_no_other_request(served):
    _, _, path = served
    with connect(path):
        assert exchange(path, b"GET /healthz HTTP/1.1\r\n\r\n")[0] == 200


def test_requests_are_served_side_by_side_and_idle_threads_stay_few(served):
    daemon, listening, path = served
    daemon.release.clear()
    results: list[int] = []
    clients = [threading.Thread(target=lambda: results.append(post(path, "/cni", b"{}")[0])) for _ in range(6)]
    for client in clients:
        client.start()
    deadline = time.monotonic() + 10
    while len(daemon.calls) < 6:
        assert time.monotonic() < deadline, "all six must be in the daemon at once"
        time.sleep(0.01)
    daemon.release.set()
    for client in clients:
        client.join(10)
    assert results == [200] * 6
    deadline = time.monotonic() + 10
    while listening.idle > server.SPARE_THREADS:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert listening.idle >= 1


def test_stop_wakes_the_waiting_threads_and_closes_the_socket(tmp_path):
    path = str(tmp_path / "multus.sock")
    listening = server.serve_socket(StubDaemon(), path)
    before = {t.ident for t in threading.enumerate() if t.name == "socket"}
    assert before
    listening.stop()
    deadline = time.monotonic() + 5
    while {t.ident for t in threading.enumerate() if t.name == "socket"} & before:
        assert time.monotonic() < deadline, "threads waiting in accept() must return"
        time.sleep(0.01)
    with pytest.raises(OSError):
        connect(path)
    listening.unlink_own_socket()
    assert not (tmp_path / "multus.sock").exists()


def test_a_thread_that_cannot_start_leaves_the_socket_served(served, monkeypatch):
    """At the pids limit Thread.start raises: the thread that took the connection keeps accepting."""
    _, listening, path = served
    real_start = threading.Thread.start

    def refuse(thread):
        if thread.name == "socket":
            raise RuntimeError("can't start new thread")
        real_start(thread)

    with monkeypatch.context() as patch:
        patch.setattr(threading.Thread, "start", refuse)
        for _ in range(3):
            assert exchange(path, b"GET /healthz HTTP/1.1\r\n\r\n")[0] == 200
    deadline = time.monotonic() + 5
    while listening.idle < 1:
        assert time.monotonic() < deadline, "a thread must be back in accept()"
        time.sleep(0.01)
    assert exchange(path, b"GET /healthz HTTP/1.1\r\n\r\n")[0] == 200


def test_a_bug_while_serving_costs_one_request_not_the_thread(served):
    daemon, listening, path = served

    def broken(handler, body, raw, respond):
        raise KeyError("a bug")

    daemon.handle = broken
    with connect(path) as sock:
        sock.sendall(b"POST /cni HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
        assert sock.recv(65536) == b"", "no answer for that one, the connection is closed"
    assert "request on the socket failed: KeyError('a bug')" in daemon.logged.getvalue(), "one log line"
    deadline = time.monotonic() + 5
    while listening.idle < server.SPARE_THREADS:  # the thread that met the bug is back in accept()
        assert time.monotonic() < deadline, listening.idle
        time.sleep(0.01)
    assert exchange(path, b"GET /healthz HTTP/1.1\r\n\r\n")[0] == 200
