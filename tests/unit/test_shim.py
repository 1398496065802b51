"""The shim's one exchange with the daemon: the answer whole, or an OSError (the request was lost)."""

import socket

import pytest

from multus import shim


def answered(*pieces: bytes, close: bool = True) -> tuple[int, bytes]:
    ours, daemons = socket.socketpair()
    with ours, daemons:
        for piece in pieces:
            daemons.sendall(piece)
        if close:
            daemons.shutdown(socket.SHUT_WR)
        ours.settimeout(5)
        return shim.read_answer(ours)


def test_status_and_body_even_when_they_come_in_pieces():
    assert answered(b"HTTP/1.1 200 OK\r\nContent-", b"Length: 7\r\n\r\n{\"a\"", b":1}") == (200, b'{"a":1}')


def test_reading_stops_at_content_length_without_waiting_for_the_close():
    assert answered(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}", close=False) == (400, b"{}")


def test_without_content_length_the_body_ends_with_the_connection():
    assert answered(b"HTTP/1.1 200 OK\r\n\r\nall of it") == (200, b"all of it")


@pytest.mark.parametrize("pieces", [
    (b"",),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n",),
    (b"SSH-2.0-OpenSSH\r\n\r\n",),
])
def test_a_cut_or_foreign_answer_is_an_oserror(pieces):
    with pytest.raises(OSError):
        answered(*pieces)


def test_forward_to_no_daemon_is_an_oserror_before_anything_is_sent(tmp_path):
    with pytest.raises(OSError) as caught:
        shim.forward(str(tmp_path / "multus.sock"), b"{}")
    assert not isinstance(caught.value, shim.RequestLost)


def test_forward_sends_one_raw_result_request(tmp_path, one_answer_socket):
    path = str(tmp_path / "multus.sock")
    seen = one_answer_socket(path, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnull")
    assert shim.forward(path, b"{}") == (200, b"null")
    head = seen[0].split(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[0] == b"POST /cni HTTP/1.1"
    assert b"X-Multus-Raw-Result: 1" in head and b"Content-Length: 2" in head


def test_a_variable_that_is_not_utf8_reaches_the_daemon_as_the_same_bytes():
    import json

    body = shim.request_body({"LANG": b"caf\xe9\n".decode("utf-8", "surrogateescape")}, b"{}")
    value = json.loads(body)["env"]["LANG"]
    assert value.encode("utf-8", "surrogateescape") == b"caf\xe9\n"
