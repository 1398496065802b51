"""Start the fake API server (server.py) as its own process over TLS, and talk to it as a test.

`FakeApi(dir)` mints a throwaway CA, a server certificate for 127.0.0.1 and a client
certificate with the openssl CLI (EC P-256: cheap handshakes), writes kubeconfigs in the
shapes operators use (YAML with a token, JSON, client certificate, tokenFile), starts the
server and reads its request log.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SERVER = Path(__file__).with_name("server.py")
TOKEN = "plugin-token"
ADMIN_TOKEN = "admin-token"
# For tests of the fake itself: its requests are not the plugin's (the RBAC test leaves them out).
TESTER_TOKEN = "tester-token"


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def mint_certificates(directory: Path, address: str = "127.0.0.1") -> None:
    d = directory
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(d / "ca.key"))
    openssl("req", "-x509", "-new", "-key", str(d / "ca.key"), "-subj", "/CN=fake-apiserver-ca", "-days", "2",
            "-out", str(d / "ca.crt"))
    for name, subject, ext in (("server", f"/CN={address}", f"subjectAltName=IP:127.0.0.1,IP:{address},DNS:localhost"),
                               ("client", "/O=system:nodes/CN=system:node:testnode", "extendedKeyUsage=clientAuth")):
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(d / f"{name}.key"))
        openssl("req", "-new", "-key", str(d / f"{name}.key"), "-subj", subject, "-out", str(d / f"{name}.csr"))
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.crt"), "-CAkey", str(d / "ca.key"),
                "-CAcreateserial", "-days", "2", "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.crt"))


def pod(name: str, namespace: str = "default", annotations: dict | None = None, uid: str | None = None,
        node: str = "testnode", labels: dict | None = None) -> dict:
    meta: dict = {"name": name, "namespace": namespace, "annotations": annotations or {}}
    if uid:
        meta["uid"] = uid
    if labels:
        meta["labels"] = labels
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta,
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Pending"}}


def nad(name: str, namespace: str = "default", config: dict | None = None, resource: str = "") -> dict:
    meta: dict = {"name": name, "namespace": namespace}
    if resource:
        meta["annotations"] = {"k8s.v1.cni.cncf.io/resourceName": resource}
    return {"kind": "NetworkAttachmentDefinition", "apiVersion": "k8s.cni.cncf.io/v1", "metadata": meta,
            "spec": {"config": json.dumps(config)} if config is not None else {}}


class FakeApi:
    def __init__(self, directory: Path, objects: list[dict] | None = None, tls: bool = True,
                 address: str = "127.0.0.1") -> None:
        """`address`: where to listen; loopback unless a test gives it an address of a link it made."""
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tls = tls
        self.address = address
        if tls:
            mint_certificates(self.dir, address)
        self.tokens = self.dir / "tokens.json"
        self.tokens.write_text(json.dumps({TOKEN: "system:serviceaccount:kube-system:multus", ADMIN_TOKEN: "admin",
                                           TESTER_TOKEN: "tester"}))
        self.log = self.dir / "requests.jsonl"
        self.log.touch()
        (self.dir / "objects.json").write_text(json.dumps(objects or []))
        port_file = self.dir / "port"
        port_file.unlink(missing_ok=True)
        args = [sys.executable, str(SERVER), "--objects", str(self.dir / "objects.json"), "--tokens", str(self.tokens),
                "--log", str(self.log), "--port-file", str(port_file), "--address", address]
        if tls:
            args += ["--cert", str(self.dir / "server.crt"), "--key", str(self.dir / "server.key"),
                     "--ca", str(self.dir / "ca.crt")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(self.dir / "server.err", "w"))
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fake API server did not start: {(self.dir / 'server.err').read_text()}")
            time.sleep(0.02)
        self.port = int(port_file.read_text())
        self.url = f"{'https' if tls else 'http'}://{address}:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # --- kubeconfigs ----------------------------------------------------------------------
    def _b64(self, name: str) -> str:
        return base64.b64encode((self.dir / name).read_bytes()).decode()

    def kubeconfig_doc(self, user: dict | None = None, cluster: dict | None = None) -> dict:
        cluster_body = {"server": self.url, **({"certificate-authority-data": self._b64("ca.crt")} if self.tls else {})}
        return {"apiVersion": "v1", "kind": "Config", "current-context": "multus-context",
                "clusters": [{"name": "local", "cluster": {**cluster_body, **(cluster or {})}}],
                "users": [{"name": "multus", "user": user if user is not None else {"token": TOKEN}}],
                "contexts": [{"name": "multus-context", "context": {"cluster": "local", "user": "multus"}}]}

    def kubeconfig(self, name: str = "multus.kubeconfig", fmt: str = "yaml", user: dict | None = None,
                   cluster: dict | None = None) -> Path:
        doc = self.kubeconfig_doc(user, cluster)
        path = self.dir / name
        if fmt == "json":
            path.write_text(json.dumps(doc))
        else:
            path.write_text(to_yaml(doc))
        path.chmod(0o600)
        return path

    def cert_user(self, inline: bool = True) -> dict:
        if inline:
            return {"client-certificate-data": self._b64("client.crt"), "client-key-data": self._b64("client.key")}
        return {"client-certificate": str(self.dir / "client.crt"), "client-key": str(self.dir / "client.key")}

    # --- direct access as the admin -------------------------------------------------------
    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        context = ssl.create_default_context(cafile=str(self.dir / "ca.crt")) if self.tls else None
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}",
                                                  "Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, context=context, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def knobs(self, **knobs) -> None:
        code, _ = self.call("POST", "/_fake/knobs", knobs)
        assert code == 200

    def get_pod(self, name: str, namespace: str = "default") -> dict:
        code, body = self.call("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
        assert code == 200, body
        return body

    def network_status(self, name: str, namespace: str = "default") -> list[dict] | None:
        text = (self.get_pod(name, namespace)["metadata"].get("annotations") or {}).get(
            "k8s.v1.cni.cncf.io/network-status")
        return json.loads(text) if text is not None else None

    def create(self, obj: dict) -> dict:
        ns = obj["metadata"].get("namespace", "default")
        path = (f"/api/v1/namespaces/{ns}/pods" if obj["kind"] == "Pod"
                else f"/apis/k8s.cni.cncf.io/v1/namespaces/{ns}/network-attachment-definitions")
        code, body = self.call("POST", path, obj)
        assert code == 201, body
        return body

    def delete(self, kind: str, name: str, namespace: str = "default") -> None:
        path = (f"/api/v1/namespaces/{namespace}/pods/{name}" if kind == "Pod"
                else f"/apis/k8s.cni.cncf.io/v1/namespaces/{namespace}/network-attachment-definitions/{name}")
        code, body = self.call("DELETE", path)
        assert code == 200, body

    def _logged_lines(self) -> list[str]:
        """Whole lines only: the server may be writing the next one while this reads."""
        text = self.log.read_text()
        return text[:text.rfind("\n") + 1].splitlines()

    def requests(self, since: int = 0) -> list[dict]:
        return [json.loads(line) for line in self._logged_lines()[since:]]

    def mark(self) -> int:
        """The log position now: `requests(mark)` are the requests made after this call."""
        return len(self._logged_lines())


def to_yaml(doc: dict) -> str:
    """Block-style YAML for a kubeconfig (the shape the Multus thin entrypoint writes), without PyYAML."""
    def scalar(value) -> str:
        return json.dumps(value) if isinstance(value, str) else json.dumps(value)

    def emit(value, indent: int) -> list[str]:
        pad = "  " * indent
        lines: list[str] = []
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, (dict, list)) and item:
                    lines.append(f"{pad}{key}:")
                    lines.extend(emit(item, indent + 1))
                else:
                    lines.append(f"{pad}{key}: {scalar(item) if not isinstance(item, (dict, list)) else json.dumps(item)}")
        elif isinstance(value, list):
            for item in value:
                sub = emit(item, indent + 1)
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines.extend(sub[1:])
        return lines

    return "\n".join(emit(doc, 0)) + "\n"


def env_without_proxy() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
