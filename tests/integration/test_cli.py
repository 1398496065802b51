"""The same file run by hand: click subcommands over the same code."""

import json
import os
import subprocess

from tests.conftest import BINARY, REPO, links_in, reservations


def cli(*args, env=None):
    return subprocess.run([str(BINARY), *args], capture_output=True, text=True, timeout=120, env=env)


def no_cni_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}


def test_help_without_cni_command():
    out = cli(env=no_cni_env())
    assert out.returncode == 2, out
    assert "Usage:" in out.stderr and "validate" in out.stderr and out.stdout == ""


def test_a_runtime_call_without_cni_command_is_a_cni_error():
    out = subprocess.run([str(BINARY)], input="{}", capture_output=True, text=True, timeout=60,
                         env=dict(no_cni_env(), CNI_CONTAINERID="c1", CNI_PATH="/usr/lib/cni"))
    assert out.returncode == 1, out
    assert json.loads(out.stdout) == {"cniVersion": "1.1.0", "code": 4, "msg": "CNI_COMMAND is not set",
                                      "details": "expected one of ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION']"}
    assert "Usage" not in out.stdout + out.stderr


def test_version_subcommand_matches_cni_version():
    out = cli("version")
    assert out.returncode == 0 and json.loads(out.stdout)["cniVersion"] == "1.1.0"


def test_validate_explains_execution_order():
    out = cli("validate", str(REPO / "examples" / "classic-local.conf"), "--cni-path", "/usr/lib/cni")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "valid" in lines[0]
    order = [line.split()[0] for line in lines if "delegates[" in line]
    assert order == ["eth0", "net1", "net2"]
    assert "delegates[2]" in next(line for line in lines if line.strip().startswith("eth0"))
    assert "/usr/lib/cni/bridge" in out.stdout


def test_validate_rejects_with_location(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text(json.dumps({"name": "x", "type": "multus", "delegates": [{"type": "bridge"}, {"mtu": 1}]}))
    out = cli("validate", str(bad))
    assert out.returncode == 1
    assert "delegates[1]: missing 'type'" in out.stdout
    missing = tmp_path / "missing.conf"
    missing.write_text(json.dumps({"name": "x", "type": "multus", "delegates": [{"type": "nosuchplugin"}]}))
    out = cli("validate", str(missing), "--cni-path", "/usr/lib/cni")
    assert out.returncode == 1 and "NOT FOUND" in out.stdout


def test_add_check_del_by_hand_with_verbose(netns, networks, tmp_path):
    conf = tmp_path / "m.conf"
    conf.write_text(json.dumps(networks.multus(networks.bridge(), networks.macvlan())))
    added = cli("-v", "add", "--netns", netns, "--config", str(conf), "--cni-path", "/usr/lib/cni")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["ips"]
    assert "ADD bridge: sent" in added.stderr and "ADD macvlan: exit 0" in added.stderr
    assert set(links_in(netns)) == {"lo", "eth0", "net1"}
    checked = cli("check", "--netns", netns, "--config", str(conf), "--cni-path", "/usr/lib/cni")
    assert checked.returncode == 0, checked.stdout
    deleted = cli("del", "--netns", netns, "--config", str(conf), "--cni-path", "/usr/lib/cni")
    assert deleted.returncode == 0, deleted.stdout
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []


def test_cli_errors_are_cni_json(tmp_path):
    conf = tmp_path / "m.conf"
    conf.write_text("{not json")
    out = cli("add", "--netns", "x", "--config", str(conf))
    assert out.returncode == 1 and json.loads(out.stdout)["code"] == 6
    assert "Traceback" not in out.stdout + out.stderr


def test_demo_runs_and_cleans_up():
    before = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    out = cli("demo", "--cni-path", "/usr/lib/cni")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "demo OK" in out.stdout and "net2" in out.stdout
    assert "eth0" in out.stdout and out.stdout.count(": ok") == 2  # both pings between the two pods
    assert subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout == before
    assert not [ns for ns in subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout.split()
                if ns.startswith("multus-demo")]


def test_validate_accepts_a_runtime_conflist_with_a_multus_plugin():
    out = cli("validate", str(REPO / "examples" / "podman-multus.conflist"), "--cni-path", "/usr/lib/cni")
    assert out.returncode == 0, out.stdout
    assert "network 'multinet', cniVersion 1.0.0" in out.stdout
    assert [line.split()[0] for line in out.stdout.splitlines() if "delegates[" in line] == ["eth0", "net1"]


def k8s_node(fake_api, tmp_path, networks, annotations=None):
    from tests.fakeapi import nad, pod

    api = fake_api(pod("p1", uid="u1", annotations=annotations or {"k8s.v1.cni.cncf.io/networks": "mv@fast0"}),
                   nad("mv", config=dict(networks.macvlan("10.251.1.0/24"), cniVersion="0.3.1")))
    cluster = tmp_path / "cluster.conf"
    cluster.write_text(json.dumps(dict(networks.bridge(), cniVersion="0.3.1")))
    conf = tmp_path / "multus.conf"
    conf.write_text(json.dumps({"cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus",
                                "kubeconfig": str(api.kubeconfig()), "clusterNetwork": str(cluster),
                                "cniDir": str(networks.state_dir)}))
    return api, conf


def test_add_and_del_by_hand_for_a_pod(fake_api, tmp_path, networks, netns):
    api, conf = k8s_node(fake_api, tmp_path, networks)
    added = cli("add", "--netns", netns, "--config", str(conf), "--pod", "default/p1", "--pod-uid", "u1",
                "--cni-path", "/usr/lib/cni")
    assert added.returncode == 0, added.stdout + added.stderr
    assert set(links_in(netns)) == {"lo", "eth0", "fast0"}
    assert [s["interface"] for s in api.network_status("p1")] == ["eth0", "fast0"]
    wrong = cli("add", "--netns", netns, "--config", str(conf), "--pod", "default/p1", "--pod-uid", "other",
                "--container-id", "x2", "--cni-path", "/usr/lib/cni")
    assert wrong.returncode == 1 and json.loads(wrong.stdout)["code"] == 3
    deleted = cli("del", "--netns", netns, "--config", str(conf), "--pod", "default/p1", "--cni-path", "/usr/lib/cni")
    assert deleted.returncode == 0, deleted.stdout
    assert links_in(netns) == ["lo"] and reservations(networks.ipam_dir) == []


def test_explain_resolves_from_the_api_without_touching_anything(fake_api, tmp_path, networks):
    api, conf = k8s_node(fake_api, tmp_path, networks)
    mark = api.mark()
    out = cli("explain", "--config", str(conf), "--pod", "default/p1", "--cni-path", "/usr/lib/cni")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[1] == "pod: default/p1, uid u1 (from the API)"
    assert [line.split()[0] for line in lines if line.startswith("  ") and "(from " in line] == ["eth0", "fast0"]
    assert "default/mv  (from k8s.v1.cni.cncf.io/networks[0])" in out.stdout
    assert "plugin macvlan: /usr/lib/cni/macvlan" in out.stdout and "API requests made: 2" in out.stdout
    assert [r["method"] for r in api.requests(mark)] == ["GET", "GET"], "no write, no event"
    assert not list(networks.state_dir.rglob("*.json"))
    as_json = json.loads(cli("explain", "--config", str(conf), "--pod", "default/p1", "--json").stdout)
    assert [(d["name"], d["ifname"]) for d in as_json["delegates"]] == [
        (json.loads((tmp_path / "cluster.conf").read_text())["name"], "eth0"), ("default/mv", "fast0")]
    (tmp_path / "b").mkdir()
    missing = k8s_node(fake_api, tmp_path / "b", networks, {"k8s.v1.cni.cncf.io/networks": "nope"})[1]
    broken = cli("explain", "--config", str(missing), "--pod", "default/p1")
    assert broken.returncode == 1 and "an ADD would fail before any delegate runs (CNI error 7)" in broken.stdout


def test_doctor_gives_one_verdict_per_line(fake_api, tmp_path, networks):
    api, conf = k8s_node(fake_api, tmp_path, networks)
    healthy = cli("doctor", "--config", str(conf), "--cni-path", "/usr/lib/cni")
    assert healthy.returncode == 0, healthy.stdout
    verdicts = [line.split()[0] for line in healthy.stdout.splitlines()]
    assert set(verdicts) <= {"ok", "skip"} and verdicts.count("ok") >= 9
    for right in ("get pods", "update pods/status", "get network-attachment-definitions", "create events"):
        assert f"ok    right to {right}" in healthy.stdout
    api.knobs(forbid=[{"verb": "update", "resource": "pods", "subresource": "status"}], crd=False)
    sick = cli("doctor", "--config", str(conf), "--cni-path", "/usr/lib/cni")
    assert sick.returncode == 1
    assert [line for line in sick.stdout.splitlines() if line.startswith("FAIL")] == [
        "FAIL  right to update pods/status (all namespaces): denied: forbidden by the fake's knob "
        "(deploy/rbac.yaml grants it)",
        "FAIL  NetworkAttachmentDefinition CRD served: Kubernetes API: GET /apis/k8s.cni.cncf.io/v1: 404 NotFound: "
        "the server could not find the requested resource (apply deploy/crd.yaml)"]
    bad = tmp_path / "bad.conf"
    bad.write_text(json.dumps(dict(json.loads(conf.read_text()), kubeconfig=str(tmp_path / "none"))))
    out = cli("doctor", "--config", str(bad))
    assert out.returncode == 1 and "FAIL  kubeconfig: kubeconfig " in out.stdout
    api.stop()
    down = cli("doctor", "--config", str(conf))
    assert down.returncode == 1 and "FAIL  API reachable" in down.stdout
