"""The kubeconfig YAML subset is read exactly as PyYAML reads it, and anything else is left to PyYAML."""

import pytest
import yaml

from multus.k8s import yamlite
from tests.fakeapi import to_yaml

UPSTREAM = """# Kubeconfig file for Multus CNI plugin.
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://[fd00::1]:443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
users:
- name: multus
  user:
    token: "eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.abc"
contexts:
- name: multus-context
  context:
    cluster: local
    user: multus
current-context: multus-context
"""
KUBECTL_STYLE = """apiVersion: v1
clusters:
  - cluster:
      insecure-skip-tls-verify: true
      server: 'https://10.0.0.1:6443'
      tls-server-name: kubernetes
    name: c1
contexts:
  - context: {}
    name: empty
  - context:
      cluster: c1
      namespace: default
      user: u1
    name: ctx   # a comment
current-context: ctx
preferences: {}
users:
  - name: u1
    user:
      client-certificate: /etc/k/cert.pem
      client-key: /etc/k/key.pem
      extensions: []
"""


QUOTED = """a: 'it''s'
b: "say \\"hi\\" \\\\ done"
c: plain text # trailing comment
d:
e: 42
f: -7
g: null
h: ~
"""
WRITTEN_BY_THE_TESTS = to_yaml({"apiVersion": "v1", "clusters": [{"name": "local", "cluster": {
    "server": "https://127.0.0.1:6443", "certificate-authority-data": "QUJD"}}], "users": [
    {"name": "multus", "user": {"token": "t"}}], "contexts": [{"name": "c", "context": {"cluster": "local"}}]})


@pytest.mark.parametrize("text", [UPSTREAM, KUBECTL_STYLE, QUOTED, WRITTEN_BY_THE_TESTS])
def test_the_subset_reads_as_pyyaml_reads_it(text):
    assert yamlite.loads(text) == yaml.safe_load(text)


@pytest.mark.parametrize("text", ["a: &x 1\nb: *x\n", "a: !!str 1\n", "a: |\n  text\n", "a: [1, 2]\n",
                                  "a: {b: c}\n", "---\na: 1\n---\nb: 2\n", "a:\n\tb: 1\n", "a: yes\n",
                                  "a: 1\na: 2\n", "? complex\n: key\n", "a: 'unterminated\n"])
def test_anything_else_is_left_to_pyyaml(text):
    with pytest.raises(yamlite.Unsupported):
        yamlite.loads(text)
