"""The shim (`multus-shim`, thick mode): hand the CNI request to the node daemon over its unix socket.

It imports only what forwarding needs: no json (the two keys it reads are picked out of the
raw config), no ssl, no Multus logic. The daemon answers the result document itself
(`X-Multus-Raw-Result`), so stdout is the daemon's bytes. When the daemon is unreachable or
not ready (restarting, caches not synced, stopping), the shim runs the request in-process with
the same code and the same state directory as the thin plugin, so pods still start and DEL
still cleans up; set `"daemonFallback": false` to get error 11 (try again later) instead. A request
the daemon took but never answered (it died mid-request) is neither resent nor run here: it may
have been acted on, so the answer is error 11 and the runtime's retry (or DEL) takes it from there.
Like multus.entry, it imports neither `os` nor `__future__` on the forwarding path (~2 ms of each exec).
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    from typing import BinaryIO, TextIO

DEFAULT_SOCKET_DIR = "/run/multus"
SOCKET_NAME = "multus.sock"
CONNECT_TIMEOUT = 2.0
ANSWER_TIMEOUT = 600.0


def _field(doc: bytes, key: str) -> int:
    """Where the value of the top-level-looking `"key":` starts in a JSON document, or -1."""
    marker = f'"{key}"'.encode()
    start = doc.find(marker)
    if start < 0:
        return -1
    i = start + len(marker)
    while i < len(doc) and doc[i] in b" \t\r\n":
        i += 1
    if i >= len(doc) or doc[i] != ord(":"):
        return -1
    i += 1
    while i < len(doc) and doc[i] in b" \t\r\n":
        i += 1
    return i


def string_field(doc: bytes, key: str) -> "str | None":
    i = _field(doc, key)
    if i < 0 or i >= len(doc) or doc[i] != ord('"'):
        return None
    out, i = bytearray(), i + 1
    while i < len(doc):
        c = doc[i]
        if c == ord('"'):
            return out.decode(errors="replace")
        if c == ord("\\") and i + 1 < len(doc):
            i += 1
            out += {ord("n"): b"\n", ord("t"): b"\t", ord("r"): b"\r"}.get(doc[i], bytes([doc[i]]))
        else:
            out.append(c)
        i += 1
    return None


def bool_field(doc: bytes, key: str) -> "bool | None":
    i = _field(doc, key)
    if i < 0:
        return None
    if doc.startswith(b"true", i):
        return True
    if doc.startswith(b"false", i):
        return False
    return None


# Control characters, and the bytes of a variable that is not UTF-8 (decoded as lone surrogates with
# surrogateescape), as JSON escapes: the daemon turns them back into the same bytes for the plugins.
_ESCAPES = {**{i: f"\\u{i:04x}" for i in (*range(32), *range(0xDC80, 0xDD00))}, ord('"'): '\\"', ord("\\"): "\\\\"}


def _quote(text: str) -> str:
    return '"' + text.translate(_ESCAPES) + '"'


def request_body(environ: dict[str, str], stdin: bytes) -> bytes:
    """Upstream's request: {"env": {...}, "config": <stdin, base64>}."""
    import binascii

    env = ",".join(f"{_quote(k)}:{_quote(v)}" for k, v in environ.items())
    config = binascii.b2a_base64(stdin, newline=False).decode()
    return f'{{"env":{{{env}}},"config":"{config}"}}'.encode()


class RequestLost(Exception):
    """The daemon took the request but no answer came back: it may have acted on it, so running it
    again in-process (or resending it) could attach twice; the runtime retries instead."""


def forward(socket_path: str, body: bytes) -> tuple[int, bytes]:
    """The daemon's status and body. OSError: the daemon never saw the request (safe to fall back).

    One request on a fresh connection straight on `_socket`: the daemon answers with a Content-Length
    and closes, so this needs none of multus.httpwire (~0.5 ms of each exec to load on the reference VM).
    """
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        sock.connect(socket_path)
        sock.settimeout(ANSWER_TIMEOUT)
        head = (f"POST /cni HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                f"X-Multus-Raw-Result: 1\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        try:
            sock.sendall(head + body)
            return read_answer(sock)
        except OSError as exc:
            raise RequestLost(str(exc) or type(exc).__name__) from None
    finally:
        sock.close()


def read_answer(sock: "_socket.socket") -> tuple[int, bytes]:
    """Status and body of one HTTP answer; OSError when it is cut short or not HTTP."""
    data = b""
    want = -1  # the whole answer's length, once its head is in
    while want < 0 or len(data) < want:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if want < 0 and b"\r\n\r\n" in data:
            want = _answer_length(data)
    head, sep, rest = data.partition(b"\r\n\r\n")
    status = head[9:12]
    if not sep or not head.startswith(b"HTTP/1.") or not status.isdigit() or (want >= 0 and len(data) < want):
        raise OSError("the answer was cut short or is not HTTP")
    return int(status), rest if want < 0 else rest[:want - len(head) - 4]


def _answer_length(data: bytes) -> int:
    """Head plus Content-Length; -1 without one (the body then ends with the connection)."""
    head = data.partition(b"\r\n\r\n")[0]
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(head) + 4 + int(value)
    return -1


def run(environ: dict[str, str], stdin: bytes, stdout: "BinaryIO", stderr: "TextIO", argv: list[str]) -> int:
    socket_dir = string_field(stdin, "daemonSocketDir") or DEFAULT_SOCKET_DIR
    socket_path = socket_dir.rstrip("/") + "/" + SOCKET_NAME
    try:
        status, body = forward(socket_path, request_body(environ, stdin))
        why = f"answered {status}: {body[:200].decode(errors='replace').strip()}"
    except RequestLost as exc:
        return _fail(stdin, stdout, f"the daemon at {socket_path} took the request but did not answer ({exc}); "
                                    f"not running it again here")
    except OSError as exc:
        status, body, why = 0, b"", f"is unreachable ({exc.strerror or exc})"
    if status in (200, 400):
        stdout.write(body)
        stdout.flush()
        return 0 if status == 200 else 1
    return fallback(environ, stdin, stdout, stderr, argv, f"the daemon at {socket_path} {why}")


def _fail(stdin: bytes, stdout: "BinaryIO", why: str) -> int:
    """Error 11 (try again later) in the request's own version."""
    from multus.cni import skel
    from multus.cni.errors import TRY_AGAIN_LATER, CniError

    version = string_field(stdin, "cniVersion") or "1.0.0"
    skel.write(stdout, CniError(TRY_AGAIN_LATER, why).to_dict(version))
    return 1


def fallback(environ: dict[str, str], stdin: bytes, stdout: "BinaryIO", stderr: "TextIO", argv: list[str],
             why: str) -> int:
    """The thin plugin's own path, with the shim config (overlaid with the daemon's config file if named)."""
    import json
    import os

    from multus.cni.errors import CniError

    if bool_field(stdin, "daemonFallback") is False:
        return _fail(stdin, stdout, f"{why}; daemonFallback is off")
    if bool_field(stdin, "logToStderr") is not False:
        stderr.write(f"multus-shim: {why}: running the request in-process\n")
    daemon_config = string_field(stdin, "daemonConfig")
    if daemon_config and os.path.exists(daemon_config):
        from multus.daemon.config import load

        try:
            conf = json.loads(stdin)
            if isinstance(conf, dict):
                stdin = json.dumps(load(daemon_config).overlay(conf)).encode()
        except (ValueError, CniError) as exc:
            stderr.write(f"multus-shim: not using {daemon_config}: {exc}\n")
    from multus.core.plugin import run as run_thin
    from multus.helpers import self_command

    return run_thin(environ, stdin, stdout, stderr, self_command=self_command(argv))
