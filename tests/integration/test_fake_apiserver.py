"""The fake API server behaves as k8s-api.md says the real one does, where the plugin depends on it."""

import http.client
import json
import shutil
import ssl
import subprocess
import time

import pytest

from tests.fakeapi import TESTER_TOKEN, nad, pod


@pytest.fixture
def api(fake_api):
    return fake_api(pod("p1", annotations={"a": "b"}, node="n1"), pod("p2", node="n2"),
                    nad("mv", config={"type": "macvlan"}))


def raw(api, method, path, body=None, token=TESTER_TOKEN, headers=None):
    context = ssl.create_default_context(cafile=str(api.dir / "ca.crt"))
    conn = http.client.HTTPSConnection("127.0.0.1", api.port, context=context, timeout=30)
    hdrs = {"Accept": "application/json", **({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        hdrs.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=data, headers=hdrs)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, response.getheader("Content-Type"), json.loads(payload) if payload else None


def test_content_type_is_exactly_application_json(api):
    assert raw(api, "GET", "/api/v1/namespaces/default/pods/p1")[1] == "application/json"
    assert raw(api, "GET", "/api/v1/namespaces/default/pods/nope")[1] == "application/json"


def test_not_found_status_body(api):
    code, _, body = raw(api, "GET", "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/nope")
    assert code == 404
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "NotFound",
                    "code": 404, "message": 'network-attachment-definitions.k8s.cni.cncf.io "nope" not found',
                    "details": {"name": "nope", "kind": "network-attachment-definitions", "group": "k8s.cni.cncf.io"}}
    assert raw(api, "GET", "/api/v1/nothing")[2]["message"] == "the server could not find the requested resource"


def test_credentials_are_checked(api):
    assert raw(api, "GET", "/api/v1/namespaces/default/pods/p1", token=None)[::2] == (
        401, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized",
              "reason": "Unauthorized", "code": 401})
    assert raw(api, "GET", "/api/v1/namespaces/default/pods/p1", token="wrong")[0] == 401


def test_every_write_bumps_one_global_resource_version_and_stale_updates_conflict(api):
    _, _, p1 = raw(api, "GET", "/api/v1/namespaces/default/pods/p1")
    _, _, mv = raw(api, "GET", "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/mv")
    assert int(mv["metadata"]["resourceVersion"]) > int(p1["metadata"]["resourceVersion"])
    p1["metadata"]["annotations"]["x"] = "1"
    code, _, updated = raw(api, "PUT", "/api/v1/namespaces/default/pods/p1/status", p1)
    assert code == 200 and int(updated["metadata"]["resourceVersion"]) > int(mv["metadata"]["resourceVersion"])
    code, _, body = raw(api, "PUT", "/api/v1/namespaces/default/pods/p1/status", p1)  # p1 holds the old RV
    assert (code, body["reason"]) == (409, "Conflict") and "the object has been modified" in body["message"]
    p1["metadata"]["resourceVersion"] = ""
    assert raw(api, "PUT", "/api/v1/namespaces/default/pods/p1/status", p1)[0] == 200, "no RV: unconditional"


def test_status_update_changes_status_labels_and_annotations_only(api):
    _, _, p1 = raw(api, "GET", "/api/v1/namespaces/default/pods/p1")
    p1["spec"]["nodeName"] = "elsewhere"
    p1["metadata"]["labels"] = {"l": "v"}
    p1["status"] = {"phase": "Running"}
    _, _, updated = raw(api, "PUT", "/api/v1/namespaces/default/pods/p1/status", p1)
    assert (updated["spec"]["nodeName"], updated["metadata"]["labels"], updated["status"]) == (
        "n1", {"l": "v"}, {"phase": "Running"})


def test_conflict_knob_shows_a_concurrent_writer(api):
    api.knobs(conflicts=1)
    _, _, p1 = raw(api, "GET", "/api/v1/namespaces/default/pods/p1")
    assert raw(api, "PUT", "/api/v1/namespaces/default/pods/p1/status", p1)[0] == 409
    _, _, p1 = raw(api, "GET", "/api/v1/namespaces/default/pods/p1")
    assert raw(api, "PUT", "/api/v1/namespaces/default/pods/p1/status", p1)[0] == 200


def test_events_honour_generate_name(api):
    event = {"metadata": {"generateName": "p1."}, "reason": "X", "involvedObject": {"name": "p1"}}
    names = {raw(api, "POST", "/api/v1/namespaces/default/events", event)[2]["metadata"]["name"] for _ in range(2)}
    assert len(names) == 2 and all(n.startswith("p1.") for n in names)
    code, _, body = raw(api, "POST", "/api/v1/namespaces/default/events", {"metadata": {}})
    assert (code, body["reason"]) == (422, "Invalid")


def test_lists_have_kinds_and_field_selectors_filter(api):
    code, _, body = raw(api, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1")
    assert (code, body["kind"], [p["metadata"]["name"] for p in body["items"]]) == (200, "PodList", ["p1"])
    assert body["metadata"]["resourceVersion"]
    assert raw(api, "GET", "/api/v1/pods?fieldSelector=status.phase%3DRunning")[0] == 400


def test_protobuf_bodies_are_refused_as_unsupported(api):
    code, _, body = raw(api, "POST", "/api/v1/namespaces/default/events", {"x": 1},
                        headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    assert (code, body["reason"]) == (415, "UnsupportedMediaType")


def stream(api, path, seconds=10):
    context = ssl.create_default_context(cafile=str(api.dir / "ca.crt"))
    conn = http.client.HTTPSConnection("127.0.0.1", api.port, context=context, timeout=seconds)
    conn.request("GET", path, headers={"Authorization": f"Bearer {TESTER_TOKEN}"})
    return conn, conn.getresponse()


def test_watch_replays_resumes_expires_and_times_out(api):
    conn, response = stream(api, "/api/v1/pods?watch=true&timeoutSeconds=1")
    started = time.monotonic()
    events = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    conn.close()
    assert response.getheader("Content-Type") == "application/json"
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "p1"), ("ADDED", "p2")]
    assert time.monotonic() - started < 5
    since = events[-1]["object"]["metadata"]["resourceVersion"]
    api.delete("Pod", "p2")
    conn, response = stream(api, f"/api/v1/pods?watch=1&resourceVersion={since}&timeoutSeconds=1")
    resumed = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    conn.close()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in resumed][-1] == ("DELETED", "p2")
    api.knobs(expire_history=True)
    conn, response = stream(api, "/api/v1/pods?watch=1&resourceVersion=1&timeoutSeconds=1")
    [expired] = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    conn.close()
    assert expired["type"] == "ERROR" and (expired["object"]["code"], expired["object"]["reason"]) == (410, "Expired")
    code, _, body = raw(api, "GET", "/api/v1/pods?watch=true&sendInitialEvents=true")
    assert (code, body["reason"]) == (422, "Invalid")


def test_kubectl_can_read_and_annotate(api):
    assert shutil.which("kubectl"), "install kubectl (Debian: kubernetes-client; ./build.sh deps)"
    kubeconfig = str(api.kubeconfig(user={"token": TESTER_TOKEN}))
    got = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "get", "net-attach-def", "-o", "name"],
                         capture_output=True, text=True, timeout=60)
    assert got.returncode == 0 and got.stdout.strip() == "networkattachmentdefinition.k8s.cni.cncf.io/mv", got.stderr
    annotated = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "annotate", "pod", "p1", "k=v"],
                               capture_output=True, text=True, timeout=60)
    assert annotated.returncode == 0, annotated.stderr
    assert api.get_pod("p1")["metadata"]["annotations"]["k"] == "v"


def test_requests_are_logged_as_json_lines(api):
    mark = api.mark()
    raw(api, "GET", "/api/v1/namespaces/default/pods/p1", headers={"User-Agent": "probe"})
    [entry] = api.requests(mark)
    assert (entry["method"], entry["path"], entry["status"], entry["auth"], entry["userAgent"], entry["user"]) == (
        "GET", "/api/v1/namespaces/default/pods/p1", 200, "bearer", "probe", "tester")
