"""The API client: JSON over one keep-alive TLS connection per process, bounded timeouts.

Every failure becomes a CniError the runtime can act on: an unreachable, timing-out or
overloaded server is 11 (try again later); refused credentials or rights, and missing
objects, are 7 with the API's own reason and message. Timeouts are seconds, not
milliseconds: a loaded API server can take over a second to answer (docs/configuration.md).
"""

from __future__ import annotations

import os

from multus import jsonlite
from multus.cni.errors import INVALID_CONFIG, TRY_AGAIN_LATER, CniError
from multus.httpwire import Connection, WireError

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from multus.k8s.kubeconfig import Credentials

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "multus-python"
NAD_GROUP = "k8s.cni.cncf.io"
NAD_PATH = "/apis/k8s.cni.cncf.io/v1/namespaces/{ns}/network-attachment-definitions/{name}"
POD_PATH = "/api/v1/namespaces/{ns}/pods/{name}"


class ApiError(CniError):
    """An answer other than 2xx, with what the API server said (its Status body) kept."""

    def __init__(self, code: int, msg: str, status: int, reason: str) -> None:
        super().__init__(code, msg)
        self.status = status
        self.reason = reason


def _memfd_path(name: str, data: bytes) -> tuple[int, str]:
    """Key material handed to OpenSSL by path without ever touching a disk (k8s-api.md §4)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    os.write(fd, data)
    return fd, f"/proc/self/fd/{fd}"


def tls_context(creds: Credentials) -> object:
    """The client side of TLS, straight on `_ssl` (ssl.py costs ~25 ms to import): the settings of
    ssl.create_default_context, TLS 1.2 at least, HTTP/1.1 offered by ALPN."""
    import _ssl

    context = _ssl._SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = _ssl.PROTO_TLSv1_2
    if creds.insecure:
        context.check_hostname = False
        context.verify_mode = _ssl.CERT_NONE
    elif creds.ca_data:
        try:
            context.load_verify_locations(None, None, creds.ca_data.decode("ascii", errors="replace"))
        except _ssl.SSLError as exc:
            raise CniError(INVALID_CONFIG, f"{creds.source}: certificate authority unusable: {exc}") from None
    else:
        context.set_default_verify_paths()
    context._set_alpn_protocols(b"\x08http/1.1")  # type: ignore[attr-defined]
    if creds.cert_data and creds.key_data:
        cert_fd, cert_path = _memfd_path("client-cert", creds.cert_data)
        key_fd, key_path = _memfd_path("client-key", creds.key_data)
        try:
            context.load_cert_chain(cert_path, key_path)
        except _ssl.SSLError as exc:
            raise CniError(INVALID_CONFIG, f"{creds.source}: client certificate or key unusable: {exc}") from None
        finally:
            os.close(cert_fd)
            os.close(key_fd)
    return context


def _split_server(server: str) -> tuple[bool, str, int, str]:
    scheme, _, rest = server.partition("://")
    hostport, _, prefix = rest.partition("/")
    if hostport.startswith("["):
        host, _, port = hostport[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = hostport.partition(":")
    tls = scheme == "https"
    return tls, host, int(port) if port else (443 if tls else 80), ("/" + prefix).rstrip("/")


class Verbs:
    """GET, PUT and POST in terms of `request`: one Client, or the daemon's pool of them."""

    def request(self, method: str, path: str, body: dict | None = None, timeout: float | None = None) -> dict:
        raise NotImplementedError

    def get(self, path: str, timeout: float | None = None) -> dict:
        return self.request("GET", path, timeout=timeout)

    def put(self, path: str, body: dict) -> dict:
        return self.request("PUT", path, body)

    def post(self, path: str, body: dict, timeout: float | None = None) -> dict:
        return self.request("POST", path, body, timeout=timeout)


class Client(Verbs):
    """GET/PUT/POST of JSON objects. `calls` counts requests (the benchmark and tests report it)."""

    def __init__(self, creds: Credentials, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.creds = creds
        tls, host, port, self.prefix = _split_server(creds.server)
        self.conn = Connection(host, port, tls_context(creds) if tls else None,
                               server_hostname=creds.tls_server_name or host, timeout=timeout)
        self.calls = 0

    def close(self) -> None:
        self.conn.close()

    def headers(self, body: bool = False) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        token = self.creds.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body:
            headers["Content-Type"] = "application/json"
        return headers

    def request(self, method: str, path: str, body: dict | None = None, timeout: float | None = None) -> dict:
        payload = jsonlite.dumps(body).encode() if body is not None else None
        self.calls += 1
        try:
            response = self._exchange(method, path, payload, timeout)
        except (OSError, WireError) as exc:
            if type(exc).__name__ == "SSLCertVerificationError":
                raise CniError(INVALID_CONFIG, f"Kubernetes API {self.creds.server}: its certificate is not trusted "
                                               f"by {self.creds.source}: {exc}") from None
            raise CniError(TRY_AGAIN_LATER, f"Kubernetes API {self.creds.server} unreachable "
                                            f"({method} {path}): {exc}") from None
        if 200 <= response.status < 300:
            try:
                return jsonlite.loads(response.body) if response.body else {}
            except ValueError:
                raise CniError(TRY_AGAIN_LATER, f"Kubernetes API answered {method} {path} with a body that is "
                                                f"not JSON") from None
        raise error_of(method, path, response.status, response.body)

    def _exchange(self, method: str, path: str, payload: bytes | None, timeout: float | None):
        """One request, under `timeout` instead of the client's own when given."""
        usual = self.conn.timeout
        if timeout is not None:
            self.conn.timeout = timeout
            if self.conn.sock is not None:
                self.conn.sock.settimeout(timeout)
        try:
            return self.conn.request(method, self.prefix + path, self.headers(payload is not None), payload)
        finally:
            if timeout is not None:
                self.conn.timeout = usual
                if self.conn.sock is not None:
                    self.conn.sock.settimeout(usual)


def error_of(method: str, path: str, status: int, body: bytes) -> ApiError:
    """The API's Status body as a readable CNI error (reason and message), not a dump."""
    reason, message = "", ""
    try:
        doc = jsonlite.loads(body)
        if isinstance(doc, dict):
            reason, message = str(doc.get("reason", "")), str(doc.get("message", ""))
    except ValueError:
        message = body[:200].decode(errors="replace")
    text = f"Kubernetes API: {method} {path}: {status} {reason or 'error'}" + (f": {message}" if message else "")
    transient = status in (429, 500, 502, 503, 504)
    return ApiError(TRY_AGAIN_LATER if transient else INVALID_CONFIG, text, status, reason)


_SEGMENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:@")


def _segment(value: str, what: str) -> str:
    """One path segment as given, or a clear error: a name from CNI_ARGS, a pod annotation or a config
    must never add segments, a query or header lines to an API request."""
    if value in ("", ".", "..") or not _SEGMENT_CHARS.issuperset(value):
        raise CniError(INVALID_CONFIG, f"{what} {value!r} cannot name a Kubernetes object")
    return value


def pod_path(namespace: str, name: str) -> str:
    return POD_PATH.format(ns=_segment(namespace, "namespace"), name=_segment(name, "pod name"))


def nad_path(namespace: str, name: str) -> str:
    return NAD_PATH.format(ns=_segment(namespace, "namespace"), name=_segment(name, "network name"))
