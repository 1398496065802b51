"""A small, faithful Kubernetes API server double for the plugin's tests (k8s-api.md §2).

Standard library only, run as its own process over TLS. What it gets right, because the plugin
depends on it: exactly `Content-Type: application/json`; Status bodies with `reason`, `code`
and `details`; a global resourceVersion that every write bumps; 409 on a stale resourceVersion;
PUT pods/status replacing status, labels and annotations only; events with `generateName`;
bearer tokens (re-read from a file on every request) and client certificates; list and watch
with resourceVersion, `fieldSelector`, 410 Expired and `timeoutSeconds`; 422 for
`sendInitialEvents`; discovery for kubectl. Knobs (POST /_fake/knobs, admin token) inject
conflicts, outages, latency and 403s. Every request is logged as one JSON line.

Not served (non-goals): protobuf bodies (415), RBAC evaluation beyond the 403 knob, admission,
pagination, server-side apply.

Usage: server.py --objects FILE --tokens FILE --log FILE --port-file FILE [--cert C --key K --ca CA]
"""

from __future__ import annotations

import argparse
import copy
import json
import socket
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HISTORY = 2000
NAD_GROUP = "k8s.cni.cncf.io"
KINDS = {  # plural → (kind, apiVersion, namespaced)
    "pods": ("Pod", "v1", True),
    "events": ("Event", "v1", True),
    "network-attachment-definitions": ("NetworkAttachmentDefinition", f"{NAD_GROUP}/v1", True),
}
CRD_NAME = f"network-attachment-definitions.{NAD_GROUP}"


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ApiFailure(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details


def status_body(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}
    if details is not None:
        body["details"] = details
    return body


def not_found(plural: str, name: str) -> ApiFailure:
    group = NAD_GROUP if plural == "network-attachment-definitions" else ""
    qualified = f"{plural}.{group}" if group else plural
    details = {"name": name, "kind": plural, **({"group": group} if group else {})}
    return ApiFailure(404, "NotFound", f'{qualified} "{name}" not found', details)


class Store:
    """Every object, the global resourceVersion, and a bounded history for watches."""

    def __init__(self, objects: list[dict]) -> None:
        self.lock = threading.Condition()
        self.rv = 1
        self.woken = 1  # the resourceVersion watchers were last woken for
        self.objects: dict[tuple[str, str, str], dict] = {}
        self.history: list[tuple[int, str, str, dict]] = []
        self.conflicts = 0
        self.names = 0
        for obj in objects:
            plural = {"Pod": "pods", "NetworkAttachmentDefinition": "network-attachment-definitions",
                      "Event": "events"}[obj["kind"]]
            self.create(plural, obj["metadata"].get("namespace", "default"), obj)

    def _stamp(self, plural: str, obj: dict) -> dict:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        kind, api_version, _ = KINDS[plural]
        obj["kind"], obj["apiVersion"] = kind, api_version
        return obj

    def _record(self, event: str, plural: str, obj: dict) -> None:
        """Watchers hear of it at `wake()`, once the writer has its answer."""
        self.history.append((self.rv, event, plural, copy.deepcopy(obj)))
        del self.history[:-HISTORY]

    def wake(self) -> None:
        """Let watch streams send what was recorded. Called after a request's answer is written:
        the real server's watchers hear of a write through etcd's watch, after it committed, and
        never hold up its answer; here a watch thread woken first took the GIL from the answer
        (~0.4 ms per PUT pods/status on the reference VM)."""
        with self.lock:
            if self.woken != self.rv:
                self.woken = self.rv
                self.lock.notify_all()

    def get(self, plural: str, ns: str, name: str) -> dict:
        with self.lock:
            obj = self.objects.get((plural, ns, name))
            if obj is None:
                raise not_found(plural, name)
            return copy.deepcopy(obj)

    def list(self, plural: str, ns: str | None, selector) -> tuple[list[dict], int]:
        with self.lock:
            items = [copy.deepcopy(o) for (p, n, _), o in sorted(self.objects.items())
                     if p == plural and (ns is None or n == ns) and selector(o)]
            return items, self.rv

    def create(self, plural: str, ns: str, obj: dict) -> dict:
        with self.lock:
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            if not meta.get("name"):
                if not meta.get("generateName"):
                    raise ApiFailure(422, "Invalid", f"{plural} is invalid: metadata.name: Required value: name or "
                                                     f"generateName is required")
                self.names += 1
                meta["name"] = f"{meta['generateName']}{self.names:05x}"
            if (plural, ns, meta["name"]) in self.objects:
                raise ApiFailure(409, "AlreadyExists", f'{plural} "{meta["name"]}" already exists',
                                 {"name": meta["name"], "kind": plural})
            meta["namespace"] = ns
            meta.setdefault("uid", str(uuid.uuid4()))
            meta["creationTimestamp"] = now_rfc3339()
            self.objects[(plural, ns, meta["name"])] = self._stamp(plural, obj)
            self._record("ADDED", plural, obj)
            return copy.deepcopy(obj)

    def update(self, plural: str, ns: str, name: str, obj: dict, status_only: bool = False) -> dict:
        with self.lock:
            stored = self.objects.get((plural, ns, name))
            if stored is None:
                raise not_found(plural, name)
            meta = obj.get("metadata") or {}
            if meta.get("name", name) != name:
                raise ApiFailure(400, "BadRequest", f"the name of the object ({meta.get('name')}) does not match "
                                                    f"the name on the URL ({name})")
            if status_only and self.conflicts > 0:
                self.conflicts -= 1
                self._stamp(plural, stored)  # a concurrent writer got there first
                self._record("MODIFIED", plural, stored)
            wanted = meta.get("resourceVersion")
            if wanted and wanted != stored["metadata"]["resourceVersion"]:
                raise ApiFailure(409, "Conflict", f'Operation cannot be fulfilled on {plural} "{name}": the object '
                                                  f'has been modified; please apply your changes to the latest '
                                                  f'version and try again', {"name": name, "kind": plural})
            if status_only:
                new = copy.deepcopy(stored)
                new["status"] = copy.deepcopy(obj.get("status", stored.get("status", {})))
                for key in ("labels", "annotations"):
                    if key in meta:
                        new["metadata"][key] = copy.deepcopy(meta[key])
                    else:
                        new["metadata"].pop(key, None)
            else:
                new = copy.deepcopy(obj)
                new.setdefault("metadata", {})
                for key in ("uid", "creationTimestamp", "namespace", "name"):
                    new["metadata"][key] = stored["metadata"][key]
                if plural == "pods":
                    new["spec"] = stored.get("spec", {})
                    new["status"] = stored.get("status", {})
            self.objects[(plural, ns, name)] = self._stamp(plural, new)
            self._record("MODIFIED", plural, new)
            return copy.deepcopy(new)

    def patch(self, plural: str, ns: str, name: str, patch: dict) -> dict:
        def merge(target, change):
            if not isinstance(change, dict):
                return copy.deepcopy(change)
            out = dict(target) if isinstance(target, dict) else {}
            for k, v in change.items():
                if v is None:
                    out.pop(k, None)
                else:
                    out[k] = merge(out.get(k), v)
            return out

        with self.lock:
            stored = self.get(plural, ns, name)
            wanted = (patch.get("metadata") or {}).get("resourceVersion")
            if wanted and wanted != stored["metadata"]["resourceVersion"]:
                raise ApiFailure(409, "Conflict", f'Operation cannot be fulfilled on {plural} "{name}": the object '
                                                  f'has been modified; please apply your changes to the latest '
                                                  f'version and try again')
            patched = merge(stored, patch)
            patched["metadata"].pop("resourceVersion", None)
            return self.update(plural, ns, name, patched)

    def delete(self, plural: str, ns: str, name: str) -> dict:
        with self.lock:
            obj = self.objects.pop((plural, ns, name), None)
            if obj is None:
                raise not_found(plural, name)
            self._stamp(plural, obj)
            self._record("DELETED", plural, obj)
            return copy.deepcopy(obj)


def field_selector(text: str):
    """Equality selectors on metadata.name, metadata.namespace and spec.nodeName; anything else is 400."""
    rules = []
    for item in filter(None, (text or "").split(",")):
        key, op, value = item.partition("==") if "==" in item else item.partition("=")
        if key not in ("metadata.name", "metadata.namespace", "spec.nodeName") or not op:
            raise ApiFailure(400, "BadRequest", f'"{item}" is not a known field selector: only "metadata.name", '
                                                f'"metadata.namespace", "spec.nodeName"')
        rules.append((key.split("."), value))

    def match(obj: dict) -> bool:
        for path, value in rules:
            node = obj
            for part in path:
                node = node.get(part, "") if isinstance(node, dict) else ""
            if node != value:
                return False
        return True

    return match


def label_selector(text: str):
    rules = [item.partition("=")[::2] for item in filter(None, (text or "").split(","))]
    return lambda obj: all((obj["metadata"].get("labels") or {}).get(k.rstrip("=")) == v.lstrip("=") for k, v in rules)


class Knobs:
    def __init__(self) -> None:
        self.outage: dict = {}
        self.latency = 0.0
        self.forbid: list[dict] = []
        self.crd = True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-apiserver"

    def log_message(self, fmt: str, *args) -> None:
        return

    # --- plumbing -------------------------------------------------------------------------
    def _send_json(self, code: int, body: dict) -> None:
        """Logged before the answer leaves, so a test that got the answer also finds it in the log."""
        data = json.dumps(body).encode()
        self._status = code
        if not self.url.path.startswith("/_fake/") and not self._logged:
            self._log(self._started)
            self._logged = True
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self._status = code

    def _user(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            try:
                with open(self.server.tokens_file) as f:
                    tokens = json.load(f)
            except (OSError, ValueError):
                tokens = {}
            user = tokens.get(auth[7:].strip())
            self._auth = "bearer" if user else "bad-bearer"
            return user
        cert = getattr(self.connection, "getpeercert", lambda: None)()
        if cert:
            self._auth = "x509"
            for rdn in cert.get("subject", ()):
                for key, value in rdn:
                    if key == "commonName":
                        return value
        self._auth = "none"
        return None

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if self.command in ("POST", "PUT", "PATCH") and ctype not in (
                "application/json", "application/merge-patch+json", "application/strategic-merge-patch+json"):
            raise ApiFailure(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                                          "accepted media types include: application/json")
        try:
            body = json.loads(raw) if raw else {}
        except ValueError as exc:
            raise ApiFailure(400, "BadRequest", f"error decoding body: {exc}") from None
        if not isinstance(body, dict):
            raise ApiFailure(400, "BadRequest", "the body is not a JSON object")
        return body

    def _log(self, started: float) -> None:
        entry = {"t": round(started, 4), "method": self.command, "path": self.url.path, "query": self.url.query,
                 "status": self._status, "accept": self.headers.get("Accept", ""),
                 "contentType": self.headers.get("Content-Type", ""), "auth": self._auth,
                 "user": self._who or "", "userAgent": self.headers.get("User-Agent", ""),
                 "ms": round((time.monotonic() - self._t0) * 1000, 2)}
        with self.server.log_lock, open(self.server.log_file, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def _handle(self) -> None:
        started, self._t0 = time.time(), time.monotonic()
        self._started = started
        self._status, self._auth, self._who, self._logged = 0, "none", None, False
        self.url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(self.url.query).items()}
        knobs: Knobs = self.server.knobs
        try:
            try:
                self._who = self._user()
                if self.url.path.startswith("/_fake/"):
                    return self._control()
                if self._who is None:
                    raise ApiFailure(401, "Unauthorized", "Unauthorized")
                if knobs.latency:
                    time.sleep(knobs.latency)
                outage = knobs.outage
                if outage.get("count", 0) > 0:
                    outage["count"] -= 1
                    if outage.get("mode") == "close":
                        self._status = -1
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return None
                    code = outage.get("status", 503)
                    reason = {429: "TooManyRequests", 500: "InternalError"}.get(code, "ServiceUnavailable")
                    raise ApiFailure(code, reason, "the fake API server was told to fail this request")
                return self._route()
            except ApiFailure as exc:
                self._send_json(exc.code, status_body(exc.code, exc.reason, exc.message, exc.details))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            try:
                if not self.url.path.startswith("/_fake/") and not self._logged:
                    self._log(started)
            finally:
                self.server.store.wake()

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

    # --- control --------------------------------------------------------------------------
    def _control(self) -> None:
        if self._who != "admin":
            raise ApiFailure(401, "Unauthorized", "Unauthorized")
        knobs: Knobs = self.server.knobs
        body = self._body() if self.command == "POST" else {}
        if self.url.path == "/_fake/knobs":
            if "conflicts" in body:
                with self.server.store.lock:
                    self.server.store.conflicts = int(body["conflicts"])
            if "outage" in body:
                knobs.outage = dict(body["outage"] or {})
            if "latency" in body:
                knobs.latency = float(body["latency"])
            if "forbid" in body:
                knobs.forbid = list(body["forbid"] or [])
            if "crd" in body:
                knobs.crd = bool(body["crd"])
            if "expire_history" in body:
                with self.server.store.lock:
                    self.server.store.history.clear()
            if "end_watches" in body:
                self.server.watch_generation += 1
                with self.server.store.lock:
                    self.server.store.lock.notify_all()
            return self._send_json(200, {"ok": True})
        raise ApiFailure(404, "NotFound", "no such control")

    # --- API ------------------------------------------------------------------------------
    def _forbidden(self, verb: str, resource: str, subresource: str, ns: str) -> None:
        for rule in self.server.knobs.forbid:
            if rule.get("verb") in (verb, "*") and rule.get("resource") in (resource, "*") and \
                    rule.get("subresource", "") == subresource and rule.get("namespace", ns) == ns:
                what = f"{resource}/{subresource}" if subresource else resource
                group = NAD_GROUP if resource == "network-attachment-definitions" else ""
                raise ApiFailure(403, "Forbidden", f'{what} "{self._name or ""}" is forbidden: User "{self._who}" '
                                                   f'cannot {verb} resource "{what}" in API group "{group}" in the '
                                                   f'namespace "{ns}"', {"name": self._name or "", "kind": resource})

    def _route(self) -> None:
        path = self.url.path.rstrip("/") or "/"
        parts = path.strip("/").split("/")
        self._name = None
        if not self.server.knobs.crd and path.startswith(f"/apis/{NAD_GROUP}"):
            raise ApiFailure(404, "NotFound", "the server could not find the requested resource", {})
        if path in ("/version",):
            return self._send_json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake",
                                         "platform": "linux/amd64"})
        if path == "/api":
            return self._send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                         "serverAddressByClientCIDRs": []})
        if path == "/apis":
            groups = [{"name": NAD_GROUP, "versions": [{"groupVersion": f"{NAD_GROUP}/v1", "version": "v1"}],
                       "preferredVersion": {"groupVersion": f"{NAD_GROUP}/v1", "version": "v1"}}]
            return self._send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if path == f"/apis/{NAD_GROUP}":
            version = {"groupVersion": f"{NAD_GROUP}/v1", "version": "v1"}
            return self._send_json(200, {"kind": "APIGroup", "apiVersion": "v1", "name": NAD_GROUP,
                                         "versions": [version], "preferredVersion": version})
        if path == "/api/v1":
            return self._send_json(200, self._resources("v1", ["pods", "events"]))
        if path == f"/apis/{NAD_GROUP}/v1":
            return self._send_json(200, self._resources(f"{NAD_GROUP}/v1", ["network-attachment-definitions"]))
        if path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" and self.command == "POST":
            return self._review(self._body())
        if path == f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD_NAME}" and self.command == "GET":
            if not self.server.knobs.crd:
                raise ApiFailure(404, "NotFound", f'customresourcedefinitions.apiextensions.k8s.io "{CRD_NAME}" '
                                                  f'not found', {"name": CRD_NAME, "kind": "customresourcedefinitions",
                                                                 "group": "apiextensions.k8s.io"})
            return self._send_json(200, {"kind": "CustomResourceDefinition", "apiVersion": "apiextensions.k8s.io/v1",
                                         "metadata": {"name": CRD_NAME},
                                         "spec": {"group": NAD_GROUP, "names": {"plural": "network-attachment-definitions"},
                                                  "versions": [{"name": "v1", "served": True, "storage": True}]}})
        # /api/v1/[namespaces/NS/]PLURAL[/NAME[/SUB]] and /apis/GROUP/v1/...
        if parts[:2] == ["api", "v1"]:
            rest = parts[2:]
        elif parts[:3] == ["apis", NAD_GROUP, "v1"]:
            rest = parts[3:]
        else:
            raise ApiFailure(404, "NotFound", "the server could not find the requested resource", {})
        ns = None
        if len(rest) >= 2 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest or rest[0] not in KINDS or (parts[0] == "api") != (rest[0] != "network-attachment-definitions"):
            raise ApiFailure(404, "NotFound", "the server could not find the requested resource", {})
        plural, name = rest[0], rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        self._name = name
        if sub and (plural != "pods" or sub != "status"):
            raise ApiFailure(404, "NotFound", "the server could not find the requested resource", {})
        return self._resource(plural, ns, name, sub)

    def _resources(self, group_version: str, plurals: list[str]) -> dict:
        resources = []
        for plural in plurals:
            kind = KINDS[plural][0]
            short = {"pods": ["po"], "events": ["ev"], "network-attachment-definitions": ["net-attach-def"]}[plural]
            resources.append({"name": plural, "singularName": kind.lower(), "namespaced": True, "kind": kind,
                              "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                              "shortNames": short})
            if plural == "pods":
                resources.append({"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod",
                                  "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}

    def _review(self, body: dict) -> None:
        attrs = (body.get("spec") or {}).get("resourceAttributes") or {}
        allowed = True
        try:
            self._name = attrs.get("name")
            self._forbidden(attrs.get("verb", ""), attrs.get("resource", ""), attrs.get("subresource", ""),
                            attrs.get("namespace", ""))
        except ApiFailure:
            allowed = False
        answer = dict(body, kind="SelfSubjectAccessReview", apiVersion="authorization.k8s.io/v1",
                      status={"allowed": allowed, **({} if allowed else {"reason": "forbidden by the fake's knob"})})
        return self._send_json(201, answer)

    def _resource(self, plural: str, ns: str | None, name: str | None, sub: str) -> None:
        store: Store = self.server.store
        method = self.command
        verb = {"GET": "get" if name else ("watch" if self.query.get("watch") in ("true", "1") else "list"),
                "PUT": "update", "PATCH": "patch", "POST": "create", "DELETE": "delete"}[method]
        self._forbidden(verb, plural, sub, ns or "")
        if method == "GET" and name:
            return self._send_json(200, store.get(plural, ns, name))
        if method == "GET":
            if self.query.get("sendInitialEvents") == "true":
                raise ApiFailure(422, "Invalid", "sendInitialEvents is forbidden for watch unless the WatchList "
                                                 "feature gate is enabled")
            selector = field_selector(self.query.get("fieldSelector", ""))
            labels = label_selector(self.query.get("labelSelector", ""))
            match = lambda o: selector(o) and labels(o)  # noqa: E731
            if verb == "watch":
                return self._watch(plural, ns, match)
            items, rv = store.list(plural, ns, match)
            kind, api_version, _ = KINDS[plural]
            return self._send_json(200, {"kind": f"{kind}List", "apiVersion": api_version,
                                         "metadata": {"resourceVersion": str(rv)}, "items": items})
        if ns is None:
            raise ApiFailure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if method == "POST" and not name:
            return self._send_json(201, store.create(plural, ns, self._body()))
        if method == "PUT" and name:
            return self._send_json(200, store.update(plural, ns, name, self._body(), status_only=sub == "status"))
        if method == "PATCH" and name:
            return self._send_json(200, store.patch(plural, ns, name, self._body()))
        if method == "DELETE" and name:
            return self._send_json(200, store.delete(plural, ns, name))
        raise ApiFailure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _watch(self, plural: str, ns: str | None, match) -> None:
        store: Store = self.server.store
        generation = self.server.watch_generation
        timeout = float(self.query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        since = self.query.get("resourceVersion", "")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._status = 200
        self._log(time.time())  # now: a watch may stay open until the server stops
        self._logged = True

        def send(event: dict) -> None:
            data = json.dumps(event).encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        with store.lock:
            if since in ("", "0"):
                items, position = store.list(plural, ns, match)
                pending = [{"type": "ADDED", "object": o} for o in items]
            else:
                position = int(since)
                oldest = store.history[0][0] if store.history else store.rv + 1
                if position < oldest - 1 and position < store.rv:
                    pending = [{"type": "ERROR", "object": status_body(
                        410, "Expired", f"too old resource version: {position} ({store.rv})")}]
                    position = None
                else:
                    pending = []
        for event in pending:
            send(event)
        while position is not None:
            with store.lock:
                fresh = [(rv, t, p, o) for rv, t, p, o in store.history if rv > position and p == plural
                         and (ns is None or o["metadata"].get("namespace") == ns) and match(o)]
                if fresh:
                    position = fresh[-1][0]
                elif store.history and store.history[-1][0] > position:
                    position = store.history[-1][0]
                left = deadline - time.monotonic()
                if not fresh and left > 0 and generation == self.server.watch_generation:
                    store.lock.wait(min(left, 1.0))
                    continue
            for _, event_type, _, obj in fresh:
                send({"type": event_type, "object": obj})
            if time.monotonic() >= deadline or generation != self.server.watch_generation:
                break
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, store: Store, tokens_file: str, log_file: str, tls: ssl.SSLContext | None) -> None:
        super().__init__(address, Handler)
        self.store, self.tokens_file, self.log_file, self.tls = store, tokens_file, log_file, tls
        self.knobs = Knobs()
        self.log_lock = threading.Lock()
        self.watch_generation = 0

    def finish_request(self, request, client_address) -> None:
        """TLS handshake in the connection's own thread, and no Nagle delay (k8s-api.md §2)."""
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", required=True)
    parser.add_argument("--tokens", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--ca")
    parser.add_argument("--address", default="127.0.0.1")
    options = parser.parse_args()
    with open(options.objects) as f:
        store = Store(json.load(f))
    tls = None
    if options.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(options.cert, options.key)
        tls.set_alpn_protocols(["http/1.1"])
        if options.ca:
            tls.load_verify_locations(options.ca)
            tls.verify_mode = ssl.CERT_OPTIONAL
    server = Server((options.address, 0), store, options.tokens, options.log, tls)
    with open(options.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os

    os.rename(options.port_file + ".tmp", options.port_file)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
