"""The daemon answers a pod from its watch-fed cache only when it is the pod the runtime means."""

from multus.core.netconf import NetConf
from multus.daemon.kubecache import CachedKube


class _Pods:
    def __init__(self, *pods):
        self.store = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods}

    def get(self, namespace, name):
        return self.store.get((namespace, name))


class _Client:
    """Stands in for the API: records each GET and answers the recreated pod."""

    calls = 0

    def __init__(self, answer):
        self.answer = answer
        self.paths = []

    def get(self, path, timeout=None):
        self.paths.append(path)
        return self.answer


def _pod(uid):
    return {"metadata": {"namespace": "default", "name": "web-0", "uid": uid}}


def _kube(cached, fresh):
    netconf = NetConf({"cniVersion": "1.0.0", "name": "n", "type": "multus", "delegates": [{"type": "x"}]})
    return CachedKube(_Client(fresh), _Pods(cached), None, None, netconf, None)


def test_a_cached_predecessor_of_another_uid_is_not_used():
    kube = _kube(_pod("old-uid"), _pod("new-uid"))
    got = kube.get_pod("default", "web-0", uid="new-uid")
    assert got["metadata"]["uid"] == "new-uid"
    assert kube.client.paths == ["/api/v1/namespaces/default/pods/web-0"]


def test_the_cached_pod_serves_its_own_uid_and_requests_without_one():
    kube = _kube(_pod("same"), _pod("unexpected"))
    assert kube.get_pod("default", "web-0", uid="same")["metadata"]["uid"] == "same"
    assert kube.get_pod("default", "web-0")["metadata"]["uid"] == "same"
    assert kube.client.paths == []


class _PostRecorder:
    def __init__(self):
        self.posted = []

    def post(self, path, body, timeout=None):
        self.posted.append(body["reason"])


def test_events_wait_until_no_request_is_in_flight_then_go_out_together():
    """An event's POST must not compete with the ADD that queued it (bounded: best effort, not never)."""
    import threading
    import time

    from multus.core.log import Logger
    from multus.daemon.kubecache import EventSender

    busy = threading.Event()
    asked = threading.Event()

    def wait_idle(timeout):
        asked.set()
        busy.wait(10)

    pool = _PostRecorder()
    sender = EventSender(pool, Logger("error", "", None, ""), wait_idle=wait_idle)
    try:
        sender.submit("/api/v1/namespaces/ns/events", {"reason": "AddedInterface"})
        assert asked.wait(10)
        sender.submit("/api/v1/namespaces/ns/events", {"reason": "Second"})
        time.sleep(0.2)
        assert pool.posted == [], "nothing is posted while a request is in flight"
        busy.set()
        deadline = time.monotonic() + 10
        while len(pool.posted) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.posted == ["AddedInterface", "Second"]
    finally:
        busy.set()
        sender.stop()
