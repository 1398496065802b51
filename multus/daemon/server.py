"""The daemon's HTTP API on its unix socket (upstream's paths), and the optional metrics port.

POST /cni and /delegate carry CNI requests; GET|POST /healthz answers while the process lives,
/readyz only while the caches are synced and the daemon is not stopping. The socket's
directory is 0700 and the socket 0600, both root's: the file mode is the access control.
A client that sends `X-Multus-Raw-Result: 1` (our shim) gets the result document itself; other
clients get upstream's `{"Result": ...}`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import stat
import threading
from http.server import BaseHTTPRequestHandler

TYPE_CHECKING = False
if TYPE_CHECKING:
    from multus.core.log import Logger
    from multus.daemon.service import Daemon

MAX_BODY = 8 << 20
RAW_HEADER = "X-Multus-Raw-Result"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "multus-daemon"
    daemon: Daemon

    def log_message(self, fmt: str, *args: object) -> None:
        return

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        """Head and body in one write: a client that has read what it needs may close at once."""
        self.close_connection = True
        reason = self.responses.get(status, ("",))[0]
        head = (f"HTTP/1.1 {status} {reason}\r\nServer: {self.server_version}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        try:
            self.wfile.write(head + body)
        except (BrokenPipeError, ConnectionResetError):
            return

    def _route(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            return self._send(200, b"ok\n", "text/plain")
        if path == "/readyz":
            ready = self.daemon.ready
            return self._send(200 if ready else 500, b"ok\n" if ready else b"not ready\n", "text/plain")
        if path in ("/cni", "/delegate") and self.command == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._send(413, b'{"msg":"request too large"}')
            body = self.rfile.read(length)
            raw = self.headers.get(RAW_HEADER, "") == "1"
            return self.daemon.handle(path[1:], body, raw, lambda answer: self._send(answer.status, answer.body))
        return self._send(404, b'{"msg":"not found"}')

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    log: Logger | None = None
    inode = 0

    def unlink_own_socket(self) -> None:
        """Remove the socket path if it is still this server's (a new daemon may have bound its own)."""
        path = str(self.server_address)
        with contextlib.suppress(OSError):
            if os.lstat(path).st_ino == self.inode:
                os.unlink(path)

    def handle_error(self, request: object, client_address: object) -> None:
        """A broken connection is one log line, never a traceback on the daemon's stderr."""
        import sys

        if self.log is not None:
            self.log.error(f"connection on the socket failed: {sys.exc_info()[1]!r}")

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        """A peer name the HTTP handler can log (a unix socket's peer has none)."""
        conn, _ = self.socket.accept()
        return conn, ("local", 0)


def prepare_socket_dir(path: str) -> None:
    """0700 and root's own, whatever was there before (a stale socket, a wrong mode)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise OSError(f"socket directory {path} is not a directory owned by uid {os.geteuid()}")


def serve_socket(daemon: Daemon, path: str) -> _UnixServer:
    prepare_socket_dir(os.path.dirname(path))
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    handler = type("Handler", (_Handler,), {"daemon": daemon})
    old = os.umask(0o177)
    try:
        server = _UnixServer(path, handler)
    finally:
        os.umask(old)
    server.log = daemon.log
    server.inode = os.lstat(path).st_ino
    os.chmod(path, 0o600)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="socket",
                     daemon=True).start()
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
