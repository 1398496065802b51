"""`multus doctor`: everything this node's Multus depends on, checked one line at a time.

Each line starts with its verdict (ok, FAIL, warn, skip), so the first FAIL is what to fix.
The RBAC checks ask the API server itself (SelfSubjectAccessReview) for exactly the rights
the plugin uses: get pods, update pods/status, get network-attachment-definitions, create events.
"""

from __future__ import annotations

import os

from multus.cli.explain import _plugin_types, _where, load_config
from multus.cni.errors import CniError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# (verb, group, resource, subresource): what the code asks of the API.
RIGHTS = (("get", "", "pods", ""), ("update", "", "pods", "status"),
          ("get", "k8s.cni.cncf.io", "network-attachment-definitions", ""), ("create", "", "events", ""))


class Report:
    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.failed = False

    def line(self, verdict: str, what: str, detail: str = "") -> None:
        if verdict == "FAIL":
            self.failed = True
        self.emit(f"{verdict:<4}  {what}" + (f": {detail}" if detail else ""))


def doctor(data: bytes, source: str, cni_path: list[str], emit: Callable[[str], None]) -> bool:
    report = Report(emit)
    try:
        netconf = load_config(data)
    except CniError as exc:
        report.line("FAIL", f"config {source}", f"CNI error {exc.code}: {exc}")
        return False
    report.line("ok", f"config {source}", f"network {netconf.name!r}, cniVersion {netconf.cni_version}")
    _cluster_network(netconf, cni_path, report)
    if netconf.readiness_file:
        present = os.path.exists(netconf.readiness_file)
        report.line("ok" if present else "FAIL", f"readiness file {netconf.readiness_file}",
                    "present" if present else "missing: every ADD waits for it, then fails")
    else:
        report.line("skip", "readiness file", "readinessindicatorfile not set")
    _api(netconf, report)
    return not report.failed


def _cluster_network(netconf, cni_path: list[str], report: Report) -> None:
    from multus.core.resolve import static_delegates

    if netconf.cluster_network and "/" not in netconf.cluster_network and netconf.kubeconfig:
        report.line("skip", "cluster network", f"{netconf.cluster_network!r} is looked up in the API at ADD")
        return
    try:
        delegates = static_delegates(netconf, "eth0")
    except CniError as exc:
        report.line("FAIL", "cluster network", str(exc))
        return
    path = netconf.plugin_path + cni_path
    for d in delegates:
        missing = [p for p in _plugin_types(d.conf) if not _where(p, path)[1]]
        report.line("FAIL" if missing else "ok", f"delegate {d.name} ({d.source})",
                    f"plugins not found in {':'.join(path)}: {', '.join(missing)}" if missing else
                    ", ".join(f"{p} at {_where(p, path)[0]}" for p in _plugin_types(d.conf)))


def _api(netconf, report: Report) -> None:
    from multus.k8s import client as k8sclient
    from multus.k8s import kubeconfig

    try:
        creds = kubeconfig.load(netconf.kubeconfig) if netconf.kubeconfig else kubeconfig.in_cluster(dict(os.environ))
    except CniError as exc:
        report.line("FAIL", "kubeconfig", str(exc))
        return
    if creds is None:
        report.line("skip", "Kubernetes API", "no kubeconfig and not in a pod: static delegates only, no NADs")
        return
    report.line("ok", "kubeconfig", f"{creds.source}: server {creds.server}")
    try:
        client = k8sclient.Client(creds, netconf.api_timeout)
    except CniError as exc:
        report.line("FAIL", "TLS settings", str(exc))
        return
    try:
        try:
            version = client.get("/version")
            report.line("ok", "API reachable", f"{creds.server} answers, version {version.get('gitVersion', '?')}")
        except k8sclient.ApiError as exc:
            if exc.status in (401, 403):
                report.line("ok", "API reachable", f"{creds.server} answers")
            else:
                report.line("FAIL", "API reachable", exc.msg)
                return
        except CniError as exc:
            report.line("FAIL", "API reachable", exc.msg)
            return
        _rights(client, netconf, report)
        _crd(client, report)
    finally:
        client.close()


def _rights(client, netconf, report: Report) -> None:
    from multus.k8s import client as k8sclient

    for number, (verb, group, resource, sub) in enumerate(RIGHTS):
        what = f"{resource}/{sub}" if sub else resource
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": resource,
                                                  "subresource": sub, "namespace": ""}}}
        try:
            answer = client.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
        except k8sclient.ApiError as exc:
            if exc.status == 401:
                report.line("FAIL", "credentials accepted", f"the API server refused them: {exc.msg}")
                return
            report.line("FAIL", f"right to {verb} {what}", exc.msg)
            continue
        except CniError as exc:  # the API went away after answering /version
            report.line("FAIL", f"right to {verb} {what}", exc.msg)
            return
        if number == 0:
            report.line("ok", "credentials accepted")
        allowed = (answer.get("status") or {}).get("allowed")
        report.line("ok" if allowed else "FAIL", f"right to {verb} {what} (all namespaces)",
                    "" if allowed else f"denied{': ' + answer['status'].get('reason', '') if answer.get('status') else ''}"
                    f" (deploy/rbac.yaml grants it)")


def _crd(client, report: Report) -> None:
    try:
        resources = client.get("/apis/k8s.cni.cncf.io/v1")
    except CniError as exc:
        report.line("FAIL", "NetworkAttachmentDefinition CRD served", f"{exc.msg} (apply deploy/crd.yaml)")
        return
    names = [r.get("name") for r in resources.get("resources", [])]
    served = "network-attachment-definitions" in names
    report.line("ok" if served else "FAIL", "NetworkAttachmentDefinition CRD served",
                "k8s.cni.cncf.io/v1 network-attachment-definitions" if served else "not in k8s.cni.cncf.io/v1")
