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
    from collections.abc import Callable

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
    """Events off the request path: a bounded queue and one sender thread; full means dropped (logged).

    Off the request's time too: before each batch the sender waits (at most `IDLE_WAIT`) until no
    CNI request has been in flight for a moment (Daemon.wait_quiet), then posts everything queued.
    Posted at once, an event's TLS write and the API server's answer ran on the node's CPUs while the
    ADD that queued it was still writing its answer, or while its shim was exiting (~1 ms of each ADD
    on 2 vCPUs); events are best effort and not urgent.
    """

    IDLE_WAIT = 0.5

    def __init__(self, pool: ClientPool, log: Logger, capacity: int = 1000,
                 wait_idle: Callable[[float], object] | None = None) -> None:
        self.pool = pool
        self.log = log
        self.wait_idle = wait_idle
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
            batch = [self.queue.get()]
            if batch[0] is not None and self.wait_idle is not None:
                self.wait_idle(self.IDLE_WAIT)
            while batch[-1] is not None:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            for item in batch:
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
