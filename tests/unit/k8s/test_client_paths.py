"""Names from CNI_ARGS, annotations and configs become API paths: only whole, plain segments."""

import pytest

from multus.cni.errors import INVALID_CONFIG, CniError
from multus.httpwire import Connection
from multus.k8s import client


def test_plain_names_make_the_usual_paths():
    assert client.pod_path("default", "web-0") == "/api/v1/namespaces/default/pods/web-0"
    assert client.nad_path("ns1", "macvlan-conf") == (
        "/apis/k8s.cni.cncf.io/v1/namespaces/ns1/network-attachment-definitions/macvlan-conf")


@pytest.mark.parametrize("namespace, name", [
    ("default", "../kube-system/pods/x"),
    ("default", ".."),
    ("", "x"),
    ("default", "x?watch=1"),
    ("default", "x HTTP/1.1\r\nAuthorization: Bearer stolen"),
    ("a/b", "x"),
])
def test_names_that_would_change_the_request_are_refused(namespace, name):
    for build in (client.pod_path, client.nad_path):
        with pytest.raises(CniError) as info:
            build(namespace, name)
        assert info.value.code == INVALID_CONFIG and "cannot name a Kubernetes object" in info.value.msg


class _Recorder:
    def __init__(self):
        self.sent = b""

    def sendall(self, data):
        self.sent += data


@pytest.mark.parametrize("path, headers", [
    ("/api/v1/pods/x\r\nX-Injected: 1", {}),
    ("/api/v1/pods/x y", {}),
    ("/api/v1/pods/x", {"Authorization": "Bearer t\r\nX-Injected: 1"}),
])
def test_the_wire_refuses_a_request_head_that_would_split(path, headers):
    conn = Connection("127.0.0.1", 1)
    conn.sock = _Recorder()
    with pytest.raises(ValueError, match="CR, LF or a space"):
        conn._send("GET", path, headers, None)
    assert conn.sock.sent == b""
