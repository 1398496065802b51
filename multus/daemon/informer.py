"""A watch-fed cache of one resource: list, then watch from the list's resourceVersion.

A watch that ends (timeoutSeconds, a dropped connection) is resumed from the last
resourceVersion seen; a 410 Gone (the server's history no longer reaches back that far)
means a fresh list. Failures back off from 0.5 s to 10 s. Objects are trimmed to what
Multus reads, so 1,000 pods stay small.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import quote

from multus.cni.errors import CniError
from multus.k8s import client as k8sclient

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from multus.core.log import Logger
    from multus.k8s.kubeconfig import Credentials

WATCH_SECONDS = 300


class Expired(Exception):
    """The watch's resourceVersion is too old: list again."""


def trim_pod(pod: dict) -> dict:
    """What a pod's ADD needs (metadata, annotations, node, status for the status write)."""
    meta = {k: v for k, v in (pod.get("metadata") or {}).items() if k != "managedFields"}
    spec = pod.get("spec") or {}
    out = {"apiVersion": pod.get("apiVersion", "v1"), "kind": pod.get("kind", "Pod"), "metadata": meta,
           "spec": {"nodeName": spec.get("nodeName", "")}}
    if "status" in pod:
        out["status"] = pod["status"]
    return out


def trim_nad(nad: dict) -> dict:
    meta = {k: v for k, v in (nad.get("metadata") or {}).items() if k != "managedFields"}
    return dict(nad, metadata=meta)


class Informer:
    def __init__(self, name: str, creds: Credentials, path: str, log: Logger, trim: Callable[[dict], dict],
                 field_selector: str = "", timeout: float = 10.0, watch_seconds: int = WATCH_SECONDS) -> None:
        self.name = name
        self.creds = creds
        self.path = path
        self.log = log
        self.trim = trim
        self.selector = field_selector
        self.timeout = timeout
        self.watch_seconds = watch_seconds
        self.store: dict[tuple[str, str], dict] = {}
        self.rv = ""
        self.synced = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.requests = 0
        self._client: k8sclient.Client | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"informer-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        client = self._client
        if client is not None:
            client.conn.abort()  # wakes the blocked watch read; the loop closes the connection
        if self._thread is not None:
            self._thread.join(timeout=5)

    def get(self, namespace: str, name: str) -> dict | None:
        with self.lock:
            return self.store.get((namespace, name))

    def __len__(self) -> int:
        return len(self.store)

    def _query(self, **params: str) -> str:
        if self.selector:
            params["fieldSelector"] = self.selector
        return self.path + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())

    def _loop(self) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                if not self.rv:
                    self._list()
                self._watch()
                backoff = 0.5
            except Expired:
                self.log.verbose(f"informer {self.name}: resourceVersion {self.rv} expired, listing again")
                self.rv = ""
            except Exception as exc:  # noqa: BLE001 - the cache must never stop updating behind a ready daemon
                if self.stopping.is_set():
                    break
                why = str(exc) if isinstance(exc, (CniError, OSError, ValueError)) else repr(exc)
                self.log.error(f"informer {self.name}: {why}; again in {backoff:g}s")
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                client, self._client = self._client, None
                if client is not None:
                    client.close()

    def _list(self) -> None:
        self._client = k8sclient.Client(self.creds, self.timeout)
        self.requests += 1
        answer = self._client.get(self._query())
        items = {}
        for obj in answer.get("items") or []:
            meta = obj.get("metadata") or {}
            items[(meta.get("namespace", ""), meta.get("name", ""))] = self.trim(obj)
        with self.lock:
            self.store = items
        self.rv = str((answer.get("metadata") or {}).get("resourceVersion", ""))
        self.synced.set()

    def _watch(self) -> None:
        if self.stopping.is_set():  # stop() came during the list: no watch for it to wake
            return
        client = k8sclient.Client(self.creds, self.watch_seconds + 30)
        self._client = client
        self.requests += 1
        path = client.prefix + self._query(watch="1", resourceVersion=self.rv, allowWatchBookmarks="true",
                                           timeoutSeconds=str(self.watch_seconds))
        response, lines = client.conn.stream_lines("GET", path, client.headers())
        if response.status == 410:
            raise Expired()
        if response.status != 200:
            raise k8sclient.error_of("GET", self.path, response.status, response.body)
        for line in lines:
            if self.stopping.is_set():
                return
            event = json.loads(line)
            if not isinstance(event, dict) or not isinstance(event.get("object") or {}, dict):
                raise ValueError(f"watch event is not an object with an object: {line[:100]!r}")
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise Expired()
                raise k8sclient.error_of("WATCH", self.path, int(obj.get("code") or 500), json.dumps(obj).encode())
            meta = obj.get("metadata") or {}
            if meta.get("resourceVersion"):
                self.rv = str(meta["resourceVersion"])
            if kind == "BOOKMARK":
                continue
            key = (meta.get("namespace", ""), meta.get("name", ""))
            with self.lock:
                if kind == "DELETED":
                    self.store.pop(key, None)
                elif kind in ("ADDED", "MODIFIED"):
                    self.store[key] = self.trim(obj)
