"""Kubeconfig variants (YAML and JSON, every auth kind) and in-cluster credentials."""

import base64
import json
import sys

import pytest

from multus.cni.errors import INVALID_CONFIG, CniError
from multus.k8s import kubeconfig
from tests.fakeapi import to_yaml

CA = b"-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n"


def doc(user, cluster=None, context="ctx", **extra):
    return {"apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": "c1", "cluster": cluster or {"server": "https://10.0.0.1:6443",
                                                               "certificate-authority-data": base64.b64encode(CA).decode()}},
                         {"name": "c2", "cluster": {"server": "https://other:443"}}],
            "users": [{"name": "u1", "user": user}, {"name": "u2", "user": {"token": "wrong-user"}}],
            "contexts": [{"name": "ctx", "context": {"cluster": "c1", "user": "u1"}},
                         {"name": "ctx2", "context": {"cluster": "c2", "user": "u2"}}], **extra}


@pytest.fixture(params=["yaml", "json"])
def write(request, tmp_path):
    def write(content):
        path = tmp_path / "kubeconfig"
        path.write_text(to_yaml(content) if request.param == "yaml" else json.dumps(content))
        return str(path)
    return write


def test_token_and_ca_data_of_the_current_context(write):
    creds = kubeconfig.load(write(doc({"token": "abc"})))
    assert (creds.server, creds.ca_data, creds.bearer(), creds.insecure) == ("https://10.0.0.1:6443", CA, "abc", False)


def test_other_context(write):
    creds = kubeconfig.load(write(doc({"token": "abc"}, context="ctx2")))
    assert (creds.server, creds.bearer()) == ("https://other:443", "wrong-user")


def test_token_file_is_read_on_every_call(write, tmp_path):
    (tmp_path / "token").write_text("first\n")
    creds = kubeconfig.load(write(doc({"tokenFile": "token"})))
    assert creds.bearer() == "first"
    (tmp_path / "token").write_text("rotated\n")
    assert creds.bearer() == "rotated"


def test_client_certificate_as_files_and_as_data(write, tmp_path):
    (tmp_path / "c.crt").write_bytes(b"CERT")
    (tmp_path / "c.key").write_bytes(b"KEY")
    (tmp_path / "ca.crt").write_bytes(CA)
    files = kubeconfig.load(write(doc({"client-certificate": "c.crt", "client-key": str(tmp_path / "c.key")},
                                      cluster={"server": "https://h:1", "certificate-authority": "ca.crt"})))
    assert (files.cert_data, files.key_data, files.ca_data) == (b"CERT", b"KEY", CA)
    data = kubeconfig.load(write(doc({"client-certificate-data": base64.b64encode(b"CERT").decode(),
                                      "client-key-data": base64.b64encode(b"KEY").decode()})))
    assert (data.cert_data, data.key_data, data.bearer()) == (b"CERT", b"KEY", "")


def test_insecure_and_tls_server_name(write):
    creds = kubeconfig.load(write(doc({"token": "t"}, cluster={"server": "https://127.0.0.1:1",
                                                               "insecure-skip-tls-verify": True,
                                                               "tls-server-name": "kubernetes"})))
    assert (creds.insecure, creds.tls_server_name) == (True, "kubernetes")


@pytest.mark.parametrize("user, problem", [({"exec": {"command": "aws"}}, "uses 'exec'"),
                                           ({"auth-provider": {"name": "gcp"}}, "uses 'auth-provider'")])
def test_credential_plugins_are_refused_clearly(write, user, problem):
    with pytest.raises(CniError) as info:
        kubeconfig.load(write(doc(user)))
    assert info.value.code == INVALID_CONFIG and problem in info.value.msg


@pytest.mark.parametrize("content, problem", [("clusters: [unclosed", "neither JSON nor YAML"), ("- a list", "not a mapping")])
def test_unparsable(tmp_path, content, problem):
    (tmp_path / "k").write_text(content)
    with pytest.raises(CniError, match=problem):
        kubeconfig.load(str(tmp_path / "k"))


def test_missing_file_names_it(tmp_path):
    with pytest.raises(CniError, match="nope: cannot be read"):
        kubeconfig.load(str(tmp_path / "nope"))


def test_json_kubeconfig_does_not_import_yaml(tmp_path, monkeypatch):
    (tmp_path / "k").write_text(json.dumps(doc({"token": "t"})))
    monkeypatch.setitem(sys.modules, "yaml", None)  # importing it would now fail
    assert kubeconfig.load(str(tmp_path / "k")).bearer() == "t"


def test_in_cluster(tmp_path):
    (tmp_path / "ca.crt").write_bytes(CA)
    (tmp_path / "token").write_text("sa-token")
    assert kubeconfig.in_cluster({}, str(tmp_path)) is None
    creds = kubeconfig.in_cluster({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
                                  str(tmp_path))
    assert (creds.server, creds.ca_data, creds.bearer()) == ("https://10.96.0.1:443", CA, "sa-token")
    v6 = kubeconfig.in_cluster({"KUBERNETES_SERVICE_HOST": "fd00::1"}, str(tmp_path))
    assert v6.server == "https://[fd00::1]:443"
