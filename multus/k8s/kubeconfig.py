"""Credentials for the API server: a kubeconfig file, or the pod's service account.

The kubeconfig is tried as JSON first (JSON is valid YAML, and parses in microseconds);
PyYAML is imported only when that fails (about 30 ms, k8s-api.md §3). Supported: `token`,
`tokenFile` (read again for every request, so a rotated token is picked up), certificate
authority and client certificate/key as files or `-data`, `insecure-skip-tls-verify`,
`tls-server-name`, `current-context`. Exec plugins and auth providers are for humans'
kubeconfigs, not the ones written for CNI plugins, and are refused with a clear message.
"""

from __future__ import annotations

import binascii  # not base64: it imports re (~7 ms)
import os

from multus.cni.errors import INVALID_CONFIG, CniError

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class Credentials:
    """Where the API server is and how to prove who we are."""

    __slots__ = ("server", "ca_data", "insecure", "tls_server_name", "token", "token_file", "cert_data",
                 "key_data", "source")

    def __init__(self, server: str, source: str, ca_data: bytes | None = None, insecure: bool = False,
                 tls_server_name: str = "", token: str = "", token_file: str = "", cert_data: bytes | None = None,
                 key_data: bytes | None = None) -> None:
        self.server = server.rstrip("/")
        self.source = source
        self.ca_data = ca_data
        self.insecure = insecure
        self.tls_server_name = tls_server_name
        self.token = token
        self.token_file = token_file
        self.cert_data = cert_data
        self.key_data = key_data

    def bearer(self) -> str:
        """The token to send now: a tokenFile is read on every call (rotation needs no restart)."""
        if self.token_file:
            try:
                with open(self.token_file) as f:
                    return f.read().strip()
            except OSError as exc:
                raise CniError(INVALID_CONFIG, f"{self.source}: cannot read token file {self.token_file}: "
                                               f"{exc.strerror}") from None
        return self.token


def _fail(source: str, msg: str) -> CniError:
    return CniError(INVALID_CONFIG, f"kubeconfig {source}: {msg}")


def _parse(text: str, source: str) -> dict:
    from multus import jsonlite

    try:
        doc = jsonlite.loads(text)
    except ValueError:
        doc = _yaml(text, source)
    if not isinstance(doc, dict):
        raise _fail(source, "is not a mapping")
    return doc


def _yaml(text: str, source: str) -> object:
    """The kubeconfig subset without PyYAML when it fits (k8s.yamlite), else PyYAML, imported only now."""
    from multus.k8s import yamlite

    try:
        return yamlite.loads(text)
    except yamlite.Unsupported:
        pass
    try:
        import yaml
    except ImportError:
        raise _fail(source, "is not JSON, and PyYAML is not available to read YAML") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise _fail(source, f"is neither JSON nor YAML: {exc}") from None


def _named(doc: dict, section: str, name: str, source: str) -> dict:
    for item in doc.get(section) or []:
        if isinstance(item, dict) and item.get("name") == name:
            body = item.get(section[:-1])
            if not isinstance(body, dict):
                raise _fail(source, f"{section} entry {name!r} has no {section[:-1]!r} mapping")
            return body
    raise _fail(source, f"no {section[:-1]} named {name!r}")


def _data_or_file(body: dict, key: str, base: str, source: str) -> bytes | None:
    """`<key>-data` (base64) or `<key>` (a path, relative to the kubeconfig's directory)."""
    data = body.get(f"{key}-data")
    if data:
        try:
            return binascii.a2b_base64(str(data).encode())
        except (ValueError, binascii.Error) as exc:
            raise _fail(source, f"{key}-data is not base64: {exc}") from None
    path = body.get(key)
    if not path:
        return None
    path = os.path.join(base, str(path))
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise _fail(source, f"cannot read {key} {path}: {exc.strerror}") from None


def load(path: str) -> Credentials:
    """The current context's cluster and user from a kubeconfig file."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as exc:
        raise _fail(path, f"cannot be read: {exc.strerror}") from None
    doc = _parse(text, path)
    base = os.path.dirname(os.path.abspath(path))
    context_name = doc.get("current-context")
    if context_name:
        context = _named(doc, "contexts", context_name, path)
    elif len(doc.get("contexts") or []) == 1:
        context = _named(doc, "contexts", doc["contexts"][0].get("name"), path)
    else:
        context = {}
    clusters, users = doc.get("clusters") or [], doc.get("users") or []
    cluster_name = context.get("cluster") or (clusters[0].get("name") if len(clusters) == 1 else None)
    if not cluster_name:
        raise _fail(path, "no current-context and no single cluster to use")
    cluster = _named(doc, "clusters", cluster_name, path)
    user_name = context.get("user") or (users[0].get("name") if len(users) == 1 else None)
    user = _named(doc, "users", user_name, path) if user_name else {}
    server = cluster.get("server")
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        raise _fail(path, f"cluster {cluster_name!r} has no http(s) server URL")
    for unsupported in ("exec", "auth-provider"):
        if unsupported in user:
            raise _fail(path, f"user {user_name!r} uses {unsupported!r}, which a CNI plugin cannot run: "
                              f"give it a token, tokenFile or client certificate")
    token_file = user.get("tokenFile") or ""
    return Credentials(
        server, path,
        ca_data=_data_or_file(cluster, "certificate-authority", base, path),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        tls_server_name=str(cluster.get("tls-server-name") or ""),
        token=str(user.get("token") or ""),
        token_file=os.path.join(base, token_file) if token_file else "",
        cert_data=_data_or_file(user, "client-certificate", base, path),
        key_data=_data_or_file(user, "client-key", base, path))


def in_cluster(environ: dict[str, str], account_dir: str = SERVICE_ACCOUNT_DIR) -> Credentials | None:
    """The service account's credentials when running in a pod (KUBERNETES_SERVICE_HOST set), else None."""
    host, port = environ.get("KUBERNETES_SERVICE_HOST", ""), environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        return None
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    try:
        with open(os.path.join(account_dir, "ca.crt"), "rb") as f:
            ca = f.read()
    except OSError as exc:
        raise CniError(INVALID_CONFIG, f"in-cluster credentials: cannot read {account_dir}/ca.crt: "
                                       f"{exc.strerror}") from None
    return Credentials(f"https://{host}:{port}", f"service account {account_dir}", ca_data=ca,
                       token_file=os.path.join(account_dir, "token"))
