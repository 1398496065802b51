"""A minimal HTTP/1.1 client over one socket (TCP, TLS or a unix socket), kept alive across requests.

Why not http.client: importing it (email.parser and friends) costs ~22 ms, more than a whole
reference plugin run, on every exec that talks to the API server. This speaks exactly what
the API server and the daemon speak: Content-Length and chunked bodies, keep-alive, and line
streams (watch). Sockets and TLS come from the C modules (`_socket`, `_ssl`): `socket` and `ssl`
cost ~11 and ~25 ms to import on the reference VM. (The shim's one request needs none of this:
multus.shim sends it on `_socket` itself.)
"""

import _socket

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from collections.abc import Iterator

MAX_HEADER_BYTES = 64 << 10
MAX_BODY_BYTES = 64 << 20


class WireError(OSError):
    """The peer broke the protocol or the connection; nothing usable was received."""


class RawSocket(_socket.socket):
    """_socket.socket that `_ssl` can hold a weak reference to (what socket.socket adds, minus its imports)."""

    __slots__ = ("__weakref__",)


class TlsSocket:
    """TLS over a connected _socket, with the interface this module uses (what ssl.SSLSocket does)."""

    __slots__ = ("raw", "tls")

    def __init__(self, raw: RawSocket, context: object, server_hostname: str) -> None:
        self.raw = raw
        self.tls = context._wrap_socket(raw, False, server_hostname or None)  # type: ignore[attr-defined]
        self.tls.do_handshake()

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self.tls.write(view):]

    def recv(self, size: int) -> bytes:
        import _ssl

        try:
            return self.tls.read(size)
        except (_ssl.SSLZeroReturnError, _ssl.SSLEOFError):
            return b""

    def settimeout(self, timeout: float | None) -> None:
        self.raw.settimeout(timeout)

    def close(self) -> None:
        self.raw.close()


def tcp_connect(host: str, port: int, timeout: float) -> RawSocket:
    """socket.create_connection without the socket module; TCP_NODELAY set (no Nagle stall)."""
    error: OSError | None = None
    # An ASCII host as bytes: a str would go through the IDNA codec, whose import pulls in re (~7 ms).
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    for family, kind, proto, _, address in _socket.getaddrinfo(name, port, 0, _socket.SOCK_STREAM):
        sock = RawSocket(family, kind | _socket.SOCK_CLOEXEC, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError(f"cannot resolve {host}")


class Response:
    __slots__ = ("status", "reason", "headers", "body")

    def __init__(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body


class Connection:
    """One keep-alive connection to `host:port` (or `unix_path`), opened on first use."""

    def __init__(self, host: str = "", port: int = 0, tls: object | None = None, server_hostname: str = "",
                 unix_path: str = "", timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.server_hostname = server_hostname or host
        self.unix_path = unix_path
        self.timeout = timeout
        self.sock: TlsSocket | _socket.socket | None = None
        self.buffer = b""

    def connect(self, answer_timeout: float | None = None) -> None:
        """Open the connection now (a failure here means the peer never saw a request), then wait
        up to `answer_timeout` for answers."""
        self.close()
        self.sock = self._connect()
        if answer_timeout is not None:
            self.timeout = answer_timeout
            self.sock.settimeout(answer_timeout)

    def _connect(self) -> TlsSocket | _socket.socket:
        if self.unix_path:
            usock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
            usock.settimeout(self.timeout)
            try:
                usock.connect(self.unix_path)
            except BaseException:
                usock.close()
                raise
            return usock
        sock = tcp_connect(self.host, self.port, self.timeout)
        if self.tls is None:
            return sock
        try:
            return TlsSocket(sock, self.tls, self.server_hostname.strip("[]"))
        except BaseException:
            sock.close()
            raise

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None
                self.buffer = b""

    def abort(self) -> None:
        """Wake a read blocked in another thread (close alone does not on Linux), from any thread."""
        sock = self.sock
        raw = sock.raw if isinstance(sock, TlsSocket) else sock
        if raw is not None:
            try:
                raw.shutdown(_socket.SHUT_RDWR)
            except OSError:
                pass

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> None:
        host = self.host if self.unix_path == "" else "localhost"
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}" + (f":{self.port}" if self.port else "")]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if " " in path or any("\r" in line or "\n" in line for line in lines):
            raise ValueError(f"refusing to send {method} {path!r}: CR, LF or a space in the request head")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        if self.sock is None:
            self.sock = self._connect()
        self.sock.sendall("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + (body or b""))

    def _fill(self) -> bool:
        assert self.sock is not None
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buffer += data
        return True

    def _read_until(self, marker: bytes, limit: int) -> bytes:
        while marker not in self.buffer:
            if len(self.buffer) > limit:
                raise WireError("HTTP header too large")
            if not self._fill():
                raise WireError("connection closed by the peer")
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _read_exactly(self, count: int) -> bytes:
        if count > MAX_BODY_BYTES:
            raise WireError(f"HTTP body of {count} bytes is too large")
        while len(self.buffer) < count:
            if not self._fill():
                raise WireError("connection closed in the middle of a body")
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _head(self) -> tuple[int, str, dict[str, str]]:
        head = self._read_until(b"\r\n\r\n", MAX_HEADER_BYTES).decode("latin-1")
        status_line, *header_lines = head.split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise WireError(f"not an HTTP response: {status_line[:80]!r}")
        headers = {}
        for line in header_lines:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        return int(parts[1]), parts[2] if len(parts) > 2 else "", headers

    def _chunk(self) -> bytes:
        size_line = self._read_until(b"\r\n", 1024).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise WireError(f"bad chunk size {size_line[:20]!r}") from None
        data = self._read_exactly(size) if size else b""
        if size == 0:
            self._read_until(b"\r\n", MAX_HEADER_BYTES)  # trailers end with an empty line
        else:
            self._read_exactly(2)
        return data

    def _body(self, headers: dict[str, str], method: str, status: int) -> bytes:
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while chunk := self._chunk():
                parts.append(chunk)
            return b"".join(parts)
        if "content-length" in headers:
            return self._read_exactly(int(headers["content-length"]))
        while self._fill():  # no length: the body ends with the connection
            if len(self.buffer) > MAX_BODY_BYTES:
                raise WireError("HTTP body too large")
        data, self.buffer = self.buffer, b""
        self.close()
        return data

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | None = None, resend: bool = True) -> Response:
        """One request and its whole response. A kept-alive connection the peer already closed is
        reopened once, when nothing of the answer had arrived and `resend` allows it (a request that
        must not run twice passes False: the peer may have acted on it before the connection broke)."""
        for attempt in (0, 1):
            reused = self.sock is not None
            try:
                self._send(method, path, headers or {}, body)
                status, reason, head = self._head()
            except (WireError, ConnectionError) as exc:
                self.close()
                if resend and reused and attempt == 0 and not isinstance(exc, TimeoutError):
                    continue
                raise
            except BaseException:
                self.close()
                raise
            try:
                data = self._body(head, method, status)
            except BaseException:
                self.close()
                raise
            if head.get("connection", "").lower() == "close":
                self.close()
            return Response(status, reason, head, data)
        raise AssertionError("unreachable")

    def stream_lines(self, method: str, path: str, headers: dict[str, str] | None = None) -> "tuple[Response, Iterator[bytes]]":
        """A response whose body is a stream of lines (a watch): the head now, then each line as it comes."""
        self._send(method, path, headers or {}, None)
        status, reason, head = self._head()
        response = Response(status, reason, head, b"")
        if status != 200:
            response.body = self._body(head, method, status)
            return response, iter(())
        return response, self._lines(head)

    def _lines(self, head: dict[str, str]) -> "Iterator[bytes]":
        chunked = "chunked" in head.get("transfer-encoding", "").lower()
        pending = b""
        try:
            while True:
                if chunked:
                    data = self._chunk()
                    if not data:
                        break
                else:
                    if not self.buffer and not self._fill():
                        break
                    data, self.buffer = self.buffer, b""
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield line
            if pending.strip():
                yield pending
        finally:
            self.close()
