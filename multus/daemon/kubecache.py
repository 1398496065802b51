"""The daemon's Kubernetes side: answers from the watch-fed caches, a shared pool of
connections for the few requests that must reach the API, and events sent in the background.

A pod or NAD missing from the cache is fetched once directly (the cache can lag a new pod).
With fresh caches an ADD makes one API request: the status write.
"""

from __future__ import annotations

import queue
import threading

from multus.cni.errors import CniError
from multus.core.kube import EVENT_TIMEOUT, Kube
from multus.k8s import client as k8sclient

TYPE_CHECKING = False
if TYPE_CHECKING:
    from multus.core.log import Logger
    from multus.core.netconf import NetConf
    from multus.daemon.informer import Informer
    from multus.k8s.kubeconfig import Credentials


class ClientPool(k8sclient.Verbs):
    """Client's interface, safe for many request threads: each call borrows an idle connection."""

    def __init__(self, creds: Credentials, timeout: float, size: int = 8) -> None:
        self.creds = creds
        self.timeout = timeout
        self.size = size
        self.idle: list[k8sclient.Client] = []
        self.lock = threading.Lock()
        self.calls = 0

    def request(self, method: str, path: str, body: dict | None = None, timeout: float | None = None) -> dict:
        with self.lock:
            self.calls += 1
            client = self.idle.pop() if self.idle else k8sclient.Client(self.creds, self.timeout)
        try:
            return client.request(method, path, body, timeout)
        finally:
            with self.lock:
                if len(self.idle) < self.size:
                    self.idle.append(client)
                else:
                    client.close()

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for client in idle:
            client.close()


class EventSender:
    """Events off the request path: a bounded queue and one sender thread; full means dropped (logged)."""

    def __init__(self, pool: ClientPool, log: Logger, capacity: int = 1000) -> None:
        self.pool = pool
        self.log = log
        self.queue: queue.Queue = queue.Queue(capacity)
        self.thread = threading.Thread(target=self._run, name="events", daemon=True)
        self.thread.start()

    def submit(self, path: str, event: dict) -> None:
        try:
            self.queue.put_nowait((path, event))
        except queue.Full:
            self.log.error(f"event {event.get('reason')} dropped: the event queue is full")

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            path, event = item
            try:
                self.pool.post(path, event, timeout=EVENT_TIMEOUT)
            except CniError as exc:
                self.log.verbose(f"event {event.get('reason')} not sent: {exc.msg}")

    def stop(self, timeout: float = 2.0) -> None:
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            return
        self.thread.join(timeout)


class CachedKube(Kube):
    """One request's view: the shared caches and pool, with that request's config and logger."""

    def __init__(self, pool: ClientPool, pods: Informer | None, nads: Informer | None, events: EventSender,
                 netconf: NetConf, log: Logger) -> None:
        super().__init__(pool, netconf, log)  # type: ignore[arg-type]
        self.pods = pods
        self.nads = nads
        self.events = events

    def get_pod(self, namespace: str, name: str, wait: float | None = None, timeout: float | None = None,
                uid: str = "") -> dict | None:
        """A cached pod of another UID is a predecessor the watch has not replaced yet (a StatefulSet
        pod recreated under its name): ask the API instead of failing the ADD."""
        cached = self.pods.get(namespace, name) if self.pods is not None else None
        if cached is not None and (not uid or str((cached.get("metadata") or {}).get("uid", "")) in ("", uid)):
            return cached
        return self.fetch_pod(namespace, name, wait=wait, timeout=timeout)

    def nad(self, namespace: str, name: str) -> dict:
        cached = self.nads.get(namespace, name) if self.nads is not None else None
        return cached if cached is not None else super().nad(namespace, name)

    def post_event(self, path: str, event: dict) -> None:
        self.events.submit(path, event)

    def close(self) -> None:
        return
