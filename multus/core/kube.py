"""The Kubernetes side of one request: the pod, its NADs, network-status and events.

Only requests whose config gives API access (a kubeconfig, or in-cluster credentials) load
this, and with it ssl and the client. Bounded everywhere: the pod is asked for again while
the API answers 5xx or refuses connections, for `podLookupTimeout` (2.5 s, upstream's poll);
each request may take `apiTimeout` (10 s). The status write reuses the pod read at the start
(GET pod, GET NAD, PUT status: three requests for a one-NAD pod) and goes back to GET + PUT
only on a conflict, five tries 10 ms apart with jitter, as client-go's RetryOnConflict.
"""

from __future__ import annotations

import os
import time

from multus.cni.errors import INVALID_CONFIG, TRY_AGAIN_LATER, CniError
from multus.k8s import client as k8sclient
from multus.k8s import kubeconfig

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from multus.core.log import Logger
    from multus.core.netconf import NetConf

POLL_INTERVAL = 0.25
CONFLICT_TRIES = 5
CONFLICT_DELAY = 0.01
EVENT_TIMEOUT = 2.0


def credentials(netconf: NetConf, environ: dict[str, str], account_dir: str = kubeconfig.SERVICE_ACCOUNT_DIR
                ) -> kubeconfig.Credentials | None:
    """The kubeconfig if one is configured, else in-cluster credentials if this runs in a pod, else None."""
    if netconf.kubeconfig:
        return kubeconfig.load(netconf.kubeconfig)
    return kubeconfig.in_cluster(environ, account_dir)


class Kube:
    """`client` is one Client (a thin exec) or anything with its get/put/post/close (the daemon's pool)."""

    def __init__(self, client: k8sclient.Client, netconf: NetConf, log: Logger) -> None:
        self.netconf = netconf
        self.log = log
        self.client = client

    @classmethod
    def connect(cls, creds: kubeconfig.Credentials, netconf: NetConf, log: Logger) -> Kube:
        return cls(k8sclient.Client(creds, netconf.api_timeout), netconf, log)

    def close(self) -> None:
        self.client.close()

    @property
    def calls(self) -> int:
        return self.client.calls

    def get_pod(self, namespace: str, name: str, wait: float | None = None, timeout: float | None = None,
                uid: str = "") -> dict | None:
        """The pod as this request should see it (the daemon answers from its cache when the cached
        pod is the one with `uid`, the runtime's K8S_POD_UID)."""
        return self.fetch_pod(namespace, name, wait, timeout)

    def fetch_pod(self, namespace: str, name: str, wait: float | None = None, timeout: float | None = None
                  ) -> dict | None:
        """The pod from the API, or None when the API says it does not exist. Transient failures are
        retried until `wait` (default podLookupTimeout) has passed, then raised (code 11)."""
        budget = self.netconf.pod_wait if wait is None else wait
        deadline = time.monotonic() + budget
        path = k8sclient.pod_path(namespace, name)
        while True:
            try:
                return self.client.get(path, timeout=timeout)
            except CniError as exc:  # an ApiError (the API answered) or unreachable
                if isinstance(exc, k8sclient.ApiError) and exc.status == 404:
                    return None
                if exc.code != TRY_AGAIN_LATER or time.monotonic() + POLL_INTERVAL > deadline:
                    raise
                self.log.verbose(f"pod {namespace}/{name}: {exc.msg}; asking again")
            time.sleep(POLL_INTERVAL)

    def nad(self, namespace: str, name: str) -> dict:
        try:
            return self.client.get(k8sclient.nad_path(namespace, name))
        except k8sclient.ApiError as exc:
            if exc.status == 404:
                raise k8sclient.ApiError(INVALID_CONFIG, f"cannot find a network-attachment-definition ({name}) in "
                                                         f"namespace ({namespace}): {exc.msg}", 404, exc.reason) from None
            raise

    def write_status(self, pod: dict, value: str, annotation: str) -> bool:
        """PUT the pod's status with the annotation set; False when the pod is gone (logged)."""
        meta = pod.get("metadata") or {}
        namespace, name, uid = meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", "")
        path = k8sclient.pod_path(namespace, name) + "/status"
        current = pod
        for attempt in range(CONFLICT_TRIES):
            body = dict(current)
            body["metadata"] = dict(current.get("metadata") or {})
            body["metadata"]["annotations"] = dict(body["metadata"].get("annotations") or {}, **{annotation: value})
            try:
                self.client.put(path, body)
                return True
            except k8sclient.ApiError as exc:
                if exc.status == 404:
                    self.log.error(f"pod {namespace}/{name} is gone: network-status not written")
                    return False
                if exc.status == 403:
                    raise CniError(INVALID_CONFIG, f"cannot write network-status of pod {namespace}/{name}: the "
                                                   f"plugin's credentials lack the right to update pods/status in "
                                                   f"namespace {namespace} ({exc.msg})") from None
                if exc.status != 409 or attempt == CONFLICT_TRIES - 1:
                    raise CniError(exc.code, f"cannot write network-status of pod {namespace}/{name}: {exc.msg}") from None
            time.sleep(CONFLICT_DELAY * (0.9 + 0.2 * os.urandom(1)[0] / 255))
            fresh = self.fetch_pod(namespace, name, wait=0)
            if fresh is None:
                self.log.error(f"pod {namespace}/{name} is gone: network-status not written")
                return False
            if uid and (fresh.get("metadata") or {}).get("uid") != uid:
                self.log.error(f"pod {namespace}/{name} was recreated: network-status not written")
                return False
            current = fresh
        return False

    def event(self, pod: dict, reason: str, message: str, kind: str = "Normal") -> None:
        """Best effort: one POST with a short timeout; a failure is logged, never returned."""
        meta = pod.get("metadata") or {}
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        event = {"apiVersion": "v1", "kind": "Event",
                 "metadata": {"generateName": f"{meta.get('name', 'pod')}.", "namespace": meta.get("namespace", "")},
                 "involvedObject": {"apiVersion": "v1", "kind": "Pod", "namespace": meta.get("namespace", ""),
                                    "name": meta.get("name", ""), "uid": meta.get("uid", ""),
                                    "resourceVersion": meta.get("resourceVersion", "")},
                 "reason": reason, "message": message, "type": kind, "count": 1,
                 "firstTimestamp": stamp, "lastTimestamp": stamp,
                 "source": {"component": "multus"}, "reportingComponent": "multus",
                 "reportingInstance": os.uname().nodename}
        self.post_event(f"/api/v1/namespaces/{meta.get('namespace', '')}/events", event)

    def post_event(self, path: str, event: dict) -> None:
        try:
            self.client.post(path, event, timeout=EVENT_TIMEOUT)
        except CniError as exc:
            self.log.verbose(f"event {event['reason']} for {event['involvedObject']['name']} not sent: {exc.msg}")
