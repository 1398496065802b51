"""The daemon's HTTP API on its unix socket (upstream's paths), and the optional metrics port.

POST /cni and /delegate carry CNI requests; GET|POST /healthz answers while the process lives,
/readyz only while the caches are synced and the daemon is not stopping. The socket's
directory is 0700 and the socket 0600, both root's: the file mode is the access control.
A client that sends `X-Multus-Raw-Result: 1` (our shim) gets the result document itself; other
clients get upstream's `{"Result": ...}`.

The socket is served by threads that each wait in accept() themselves, one request per
connection, answered with `Connection: close`: the kernel hands a new connection straight to a
waiting thread. socketserver's select loop plus a new thread per connection, with http.server's
header parsing (the email package), cost ~0.8 ms of every shim request on the reference VM.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import stat
import threading
import time
from http.server import BaseHTTPRequestHandler

TYPE_CHECKING = False
if TYPE_CHECKING:
    from multus.core.log import Logger
    from multus.daemon.service import Answer, Daemon

MAX_BODY = 8 << 20
MAX_HEAD = 64 << 10
RAW_HEADER = "x-multus-raw-result"
# Each read of the request and each write of the answer may wait this long for the client; a request
# may run for minutes in between (a slow delegate), with no timeout on the socket then.
IO_TIMEOUT = 60.0
SPARE_THREADS = 2


class BadRequest(Exception):
    """The client broke HTTP: answered with `status` and closed."""

    def __init__(self, status: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status


class Request:
    __slots__ = ("method", "path", "headers", "body")

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body


def send(conn: socket.socket, status: int, body: bytes, content_type: str = "application/json") -> None:
    """Head and body in one write: a client that has read what it needs may close at once."""
    reason = BaseHTTPRequestHandler.responses.get(status, ("",))[0]
    head = (f"HTTP/1.1 {status} {reason}\r\nServer: multus-daemon\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    try:
        conn.sendall(head + body)
    except OSError:
        return


def read_request(conn: socket.socket) -> Request:
    """One request: its line, headers (names lower-cased) and Content-Length body.

    `Expect: 100-continue` (curl's, for bodies over 1 KiB) gets its interim answer; a chunked body,
    which no client of this API sends, is refused with 411 rather than misread.
    """
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            raise BadRequest(431, "request head too large")
        chunk = conn.recv(65536)
        if not chunk:
            raise BadRequest(400, "connection closed before the request was complete")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if len(head) > MAX_HEAD:
        raise BadRequest(431, "request head too large")
    line, *lines = head.decode("latin-1").split("\r\n")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, f"bad request line {line[:80]!r}")
    headers: dict[str, str] = {}
    for text in lines:
        name, colon, value = text.partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(400, f"bad header line {text[:80]!r}")
        headers[name.lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise BadRequest(411, "send the body with a Content-Length")
    try:
        length = int(headers.get("content-length") or 0)
    except ValueError:
        raise BadRequest(400, "bad Content-Length") from None
    if length < 0:
        raise BadRequest(400, "bad Content-Length")
    if length > MAX_BODY:
        raise BadRequest(413, "request too large")
    if len(body) < length and headers.get("expect", "").lower() == "100-continue":
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    parts_of_body = [body]
    have = len(body)
    while have < length:
        chunk = conn.recv(min(65536 << 2, length - have))
        if not chunk:
            raise BadRequest(400, "connection closed in the middle of the body")
        parts_of_body.append(chunk)
        have += len(chunk)
    return Request(parts[0], parts[1], headers, b"".join(parts_of_body)[:length])


class SocketServer:
    """Threads waiting in accept() on the listening socket; one more starts when the last idle one
    takes a connection, and a thread finding `SPARE_THREADS` idle ones already leaves."""

    def __init__(self, daemon: Daemon, listener: socket.socket, path: str, log: Logger) -> None:
        self.daemon = daemon
        self.listener = listener
        self.path = path
        self.inode = os.lstat(path).st_ino
        self.log = log
        self.lock = threading.Lock()
        self.idle = 0  # threads waiting in accept()
        self.closed = False

    def start(self) -> None:
        if not self._spawn():
            raise OSError("cannot start the socket's first thread")

    def _spawn(self) -> bool:
        """One more thread waiting in accept(); False when none can be started (e.g. the pids limit)."""
        with self.lock:
            self.idle += 1
        try:
            threading.Thread(target=self._serve, name="socket", daemon=True).start()
        except RuntimeError as exc:
            with self.lock:
                self.idle -= 1
            self.log.error(f"cannot start a thread for the socket: {exc}")
            return False
        return True

    def _serve(self) -> None:
        backoff = 0.1
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError as exc:
                if self.closed:
                    with self.lock:
                        self.idle -= 1
                    return
                self.log.error(f"accept on the socket failed: {exc!r}; again in {backoff:g}s")  # e.g. out of fds
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            with self.lock:
                self.idle -= 1
                last = self.idle == 0 and not self.closed
            # Without a replacement (none could start), this thread goes back to accept() afterwards.
            replaced = self._spawn() if last else True
            try:
                self.serve_connection(conn)
            finally:
                conn.close()
            with self.lock:
                if self.closed or (replaced and self.idle >= SPARE_THREADS):
                    return
                self.idle += 1

    def serve_connection(self, conn: socket.socket) -> None:
        """One request, whatever the client does or a bug does: one log line at most, the thread lives on."""
        try:
            conn.settimeout(IO_TIMEOUT)
            try:
                request = read_request(conn)
            except BadRequest as exc:
                send(conn, exc.status, json.dumps({"msg": str(exc)}).encode())
                return
            self.route(conn, request)
        except OSError as exc:
            self.log.error(f"connection on the socket failed: {exc!r}")
        except Exception as exc:  # a bug must cost one request, never the thread's accounting
            self.log.error(f"request on the socket failed: {exc!r}")

    def route(self, conn: socket.socket, request: Request) -> None:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            return send(conn, 200, b"ok\n", "text/plain")
        if path == "/readyz":
            ready = self.daemon.ready
            return send(conn, 200 if ready else 500, b"ok\n" if ready else b"not ready\n", "text/plain")
        if path in ("/cni", "/delegate") and request.method == "POST":
            raw = request.headers.get(RAW_HEADER, "") == "1"
            conn.settimeout(None)  # the request runs as long as its delegates do

            def respond(answer: Answer) -> None:
                conn.settimeout(IO_TIMEOUT)
                send(conn, answer.status, answer.body)

            return self.daemon.handle(path[1:], request.body, raw, respond)
        return send(conn, 404, b'{"msg":"not found"}')

    def unlink_own_socket(self) -> None:
        """Remove the socket path if it is still this server's (a new daemon may have bound its own)."""
        with contextlib.suppress(OSError):
            if os.lstat(self.path).st_ino == self.inode:
                os.unlink(self.path)

    def stop(self) -> None:
        """No new connections; threads waiting in accept() return (shutdown wakes them, close alone
        does not on Linux). Requests being served finish on their own (the daemon drains them)."""
        with self.lock:
            self.closed = True
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


def prepare_socket_dir(path: str) -> None:
    """0700 and root's own, whatever was there before (a stale socket, a wrong mode)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise OSError(f"socket directory {path} is not a directory owned by uid {os.geteuid()}")


def serve_socket(daemon: Daemon, path: str) -> SocketServer:
    prepare_socket_dir(os.path.dirname(path))
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(path)
    except BaseException:
        listener.close()
        raise
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    listener.listen(128)
    server = SocketServer(daemon, listener, path, daemon.log)
    server.start()
    return server


class _MetricsHandler(BaseHTTPRequestHandler):
    daemon: Daemon

    def log_message(self, fmt: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self.send_error(404)
            return
        body = self.daemon.metrics.render(self.daemon.gauges()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve_metrics(daemon: Daemon, address: str, port: int) -> _TcpServer:
    handler = type("MetricsHandler", (_MetricsHandler,), {"daemon": daemon})
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    server_class = type("Server", (_TcpServer,), {"address_family": family})
    server = server_class((address, port), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="metrics", daemon=True).start()
    return server
