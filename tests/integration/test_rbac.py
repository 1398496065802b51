"""deploy/rbac.yaml grants exactly what multus uses.

Every request the thin plugin, the shim's fallback and the daemon made to a fake API server
during this test run must be allowed by the ClusterRole, and every verb the ClusterRole grants
must have been used. This test runs last (tests/conftest.py) and first makes sure each path has
run at least once: a thin ADD and DEL of a pod with a NAD, and a daemon serving one.
"""

from urllib.parse import parse_qs

import yaml

from tests.conftest import API_REQUESTS_SEEN, REPO, pod_env, run_inprocess
from tests.fakeapi import nad, pod

# Open to every authenticated user in a default cluster (system:discovery, system:basic-user).
DEFAULT_ALLOWED = {("create", "authorization.k8s.io", "selfsubjectaccessreviews")}


def attributes(request: dict) -> tuple[str, str, str] | None:
    """(verb, API group, resource[/subresource]) of one logged request; None for non-resource paths."""
    parts = request["path"].strip("/").split("/")
    if parts[0] == "api" and len(parts) >= 2:
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if len(rest) >= 2 and rest[0] == "namespaces":
        rest = rest[2:]
    if not rest:
        return None
    resource, name, sub = rest[0], rest[1] if len(rest) > 1 else "", rest[2] if len(rest) > 2 else ""
    query = parse_qs(request["query"])
    verb = {"PUT": "update", "POST": "create", "PATCH": "patch", "DELETE": "delete"}.get(request["method"])
    if verb is None:
        verb = "get" if name else ("watch" if query.get("watch", [""])[0] in ("1", "true") else "list")
    return verb, group, f"{resource}/{sub}" if sub else resource


def granted() -> set[tuple[str, str, str]]:
    docs = list(yaml.safe_load_all((REPO / "deploy" / "rbac.yaml").read_text()))
    [role] = [d for d in docs if d["kind"] == "ClusterRole"]
    return {(verb, group, resource) for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def test_rbac_allows_every_request_and_grants_nothing_unused(cluster, daemon, networks, netns_factory):
    api = cluster.start(pod("p1", annotations={"k8s.v1.cni.cncf.io/networks": "mv"}),
                        pod("p2", annotations={"k8s.v1.cni.cncf.io/networks": "mv"}),
                        nad("mv", config=cluster.macvlan()))
    thin, thick = netns_factory(), netns_factory()
    assert run_inprocess("ADD", cluster.multus(), **pod_env(thin, "p1")).code == 0
    assert run_inprocess("DEL", cluster.multus(), **pod_env(thin, "p1")).code == 0
    proc = daemon(kubeconfig=str(api.kubeconfig()), cniDir=str(networks.state_dir))
    shim = proc.shim_config(clusterNetwork=str(cluster.cluster_file), cniDir=str(networks.state_dir))
    assert proc.shim("ADD", shim, **pod_env(thick, "p2")).code == 0
    assert proc.shim("DEL", shim, **pod_env(thick, "p2")).code == 0
    proc.stop()
    requests = API_REQUESTS_SEEN + [r for r in api.requests() if r["user"].startswith("system:")]
    used = {a for a in map(attributes, requests) if a is not None}
    rules = granted()
    assert used - rules - DEFAULT_ALLOWED == set(), "requests deploy/rbac.yaml does not allow"
    assert rules - used == set(), "rights deploy/rbac.yaml grants that no request used"
