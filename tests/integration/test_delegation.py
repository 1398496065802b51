"""What each delegate is sent, recorded by a test-double plugin, plus STATUS and GC."""

import json
import os

from tests.conftest import FAKE_PLUGINS, attach_env, links_in, reservations, run_inprocess

PATH = f"{FAKE_PLUGINS}:/usr/lib/cni"


def rec(**kw):
    return {"type": "recorder", **kw}


def test_order_ifnames_injection_args_and_capabilities(networks, recorder, tmp_path, netns):
    conf = networks.multus(rec(capabilities={"portMappings": True}), rec(name="own", cniVersion="0.4.0"),
                           rec(masterplugin=True), version="0.4.0",
                           runtimeConfig={"PortMappings": [{"hostPort": 8080, "containerPort": 80}]},
                           concurrentDelegates=False)
    env = {"CNI_CONTAINERID": "rec1", "CNI_NETNS": f"/var/run/netns/{netns}", "CNI_IFNAME": "eth0",
           "CNI_PATH": PATH, "CNI_ARGS": "K8S_POD_NAME=p;K8S_POD_NAMESPACE=ns;X=a=b"}
    assert run_inprocess("ADD", conf, **env).code == 0
    adds = recorder()
    assert [(c["env"]["CNI_IFNAME"], c["stdin"].get("name")) for c in adds] == [
        ("eth0", conf["name"]), ("net1", conf["name"]), ("net2", "own")]
    assert [c["stdin"]["cniVersion"] for c in adds] == ["0.4.0", "0.4.0", "0.4.0"]
    assert all(c["env"]["CNI_ARGS"] == "IgnoreUnknown=1;K8S_POD_NAME=p;K8S_POD_NAMESPACE=ns;X=a=b" for c in adds)
    assert all("masterplugin" not in c["stdin"] for c in adds)
    assert adds[1]["stdin"]["runtimeConfig"] == {"portMappings": [{"hostPort": 8080, "containerPort": 80}]}
    assert "runtimeConfig" not in adds[0]["stdin"] and "runtimeConfig" not in adds[2]["stdin"]
    assert all(c["env"]["CNI_PATH"].startswith("/opt/cni/bin:") for c in adds)

    assert run_inprocess("DEL", conf, **env).code == 0
    dels = recorder()[3:]
    assert [c["env"]["CNI_IFNAME"] for c in dels] == ["net2", "net1", "eth0"]
    assert all(c["env"]["CNI_COMMAND"] == "DEL" for c in dels)
    # DEL sends each delegate's own stored result as prevResult (>= 0.4.0).
    assert [c["stdin"]["prevResult"]["interfaces"][0]["name"] for c in dels] == ["net2", "net1", "eth0"]


def test_conflist_delegate_chains_prev_result(networks, recorder, netns):
    conflist = {"name": "chain", "cniVersion": "1.0.0", "plugins": [rec(), rec(marker=2)]}
    conf = networks.multus(conflist)
    env = {"CNI_CONTAINERID": "rec2", "CNI_NETNS": f"/var/run/netns/{netns}", "CNI_IFNAME": "eth0", "CNI_PATH": PATH}
    assert run_inprocess("ADD", conf, **env).code == 0
    first, second = recorder()
    assert "prevResult" not in first["stdin"]
    assert second["stdin"]["prevResult"]["interfaces"][0]["name"] == "eth0"
    assert second["stdin"]["name"] == "chain"
    assert run_inprocess("DEL", conf, **env).code == 0
    assert [c["stdin"].get("marker") for c in recorder()[2:]] == [2, None]


def test_del_attempts_every_delegate_and_keeps_state_on_failure(networks, recorder, monkeypatch, netns):
    conf = networks.multus(rec(), rec(), rec())
    env = {"CNI_CONTAINERID": "rec3", "CNI_NETNS": f"/var/run/netns/{netns}", "CNI_IFNAME": "eth0", "CNI_PATH": PATH}
    assert run_inprocess("ADD", conf, **env).code == 0
    monkeypatch.setenv("RECORDER_FAIL", "DEL:net1")
    failed = run_inprocess("DEL", conf, **env)
    assert failed.code == 1 and failed.json["code"] == 11 and "net1" in failed.json["msg"]
    assert [c["env"]["CNI_IFNAME"] for c in recorder()[3:]] == ["net2", "net1", "eth0"]
    assert (networks.state_dir / "attachments" / "rec3" / "eth0.json").exists()
    monkeypatch.delenv("RECORDER_FAIL")
    assert run_inprocess("DEL", conf, **env).code == 0
    assert not (networks.state_dir / "attachments" / "rec3").exists()


def test_rollback_order_includes_the_failed_delegate(networks, recorder, monkeypatch, netns):
    monkeypatch.setenv("RECORDER_FAIL", "ADD:net2")
    conf = networks.multus(rec(), rec(), rec(), rec(), concurrentDelegates=False)
    env = {"CNI_CONTAINERID": "rec4", "CNI_NETNS": f"/var/run/netns/{netns}", "CNI_IFNAME": "eth0", "CNI_PATH": PATH}
    added = run_inprocess("ADD", conf, **env)
    assert added.json["code"] == 11  # the delegate's own code survives
    assert [(c["env"]["CNI_COMMAND"], c["env"]["CNI_IFNAME"]) for c in recorder()] == [
        ("ADD", "eth0"), ("ADD", "net1"), ("ADD", "net2"), ("DEL", "net2"), ("DEL", "net1"), ("DEL", "eth0")]


def test_status_asks_the_master_and_passes_its_code(networks, tmp_path):
    plugin = tmp_path / "unavailable"
    plugin.write_text("#!/bin/sh\ncat >/dev/null\n"
                      "echo '{\"cniVersion\":\"1.1.0\",\"code\":50,\"msg\":\"plugin not available\"}'\nexit 1\n")
    plugin.chmod(0o755)
    ok = networks.multus(networks.bridge(cniVersion="1.0.0"), version="1.1.0")  # 1.0 delegates: STATUS is OK
    assert run_inprocess("STATUS", ok).code == 0
    down = networks.multus({"type": "unavailable", "cniVersion": "1.1.0"}, version="1.1.0")
    answer = run_inprocess("STATUS", down, CNI_PATH=str(tmp_path))
    assert (answer.code, answer.json["code"]) == (1, 50)


def test_gc_removes_only_attachments_the_runtime_no_longer_has(netns_factory, networks):
    conf = networks.multus(networks.bridge(cniVersion="1.0.0"), networks.macvlan(cniVersion="1.0.0"), version="1.1.0")
    keep, drop = netns_factory(), netns_factory()
    for ns in (keep, drop):
        assert run_inprocess("ADD", conf, **attach_env(ns)).code == 0
    gc_conf = {**conf, "cni.dev/valid-attachments": [{"containerID": f"cid-{keep}", "ifname": "eth0"}]}
    done = run_inprocess("GC", gc_conf)
    assert done.code == 0, done
    assert links_in(drop) == ["lo"]
    assert set(links_in(keep)) == {"lo", "eth0", "net1"}
    assert len(reservations(networks.ipam_dir)) == 2
    assert os.listdir(networks.state_dir / "attachments") == [f"cid-{keep}"]
    assert run_inprocess("DEL", conf, **attach_env(keep)).code == 0


def test_delegate_garbage_and_empty_output_are_named(networks, tmp_path, netns):
    for name, body in {"garbage": "echo 'not json'", "silent": "true", "crash": "echo boom >&2; exit 2"}.items():
        script = tmp_path / name
        script.write_text(f"#!/bin/sh\ncat >/dev/null\n[ \"$CNI_COMMAND\" = ADD ] || exit 0\n{body}\n")
        script.chmod(0o755)
        conf = networks.multus({"type": name})
        added = run_inprocess("ADD", conf, CNI_CONTAINERID=f"bad-{name}", CNI_NETNS=f"/var/run/netns/{netns}", CNI_IFNAME="eth0",
                              CNI_PATH=str(tmp_path))
        assert added.code == 1 and added.json["code"] == 999
        assert name in added.json["msg"], added
        assert json.dumps(added.json).count("Traceback") == 0


def test_concurrent_mode_rolls_back_every_started_delegate(networks, recorder, monkeypatch, netns):
    monkeypatch.setenv("RECORDER_FAIL", "ADD:net2")
    conf = networks.multus(rec(), rec(), rec(), rec(), concurrentDelegates=True)
    env = {"CNI_CONTAINERID": "rec5", "CNI_NETNS": f"/var/run/netns/{netns}", "CNI_IFNAME": "eth0", "CNI_PATH": PATH}
    added = run_inprocess("ADD", conf, **env)
    assert added.json["code"] == 11 and "net2" in added.json["msg"]
    calls = [(c["env"]["CNI_COMMAND"], c["env"]["CNI_IFNAME"]) for c in recorder()]
    assert calls[0] == ("ADD", "eth0")  # the master always runs first, alone
    assert sorted(calls[1:4]) == [("ADD", "net1"), ("ADD", "net2"), ("ADD", "net3")]
    assert calls[4:] == [("DEL", "net3"), ("DEL", "net2"), ("DEL", "net1"), ("DEL", "eth0")]
    assert not (networks.state_dir / "attachments" / "rec5").exists()


def test_gc_tells_each_1_1_delegate_which_of_its_attachments_remain(networks, recorder, netns_factory):
    conf = networks.multus(rec(name="m", cniVersion="1.1.0"), rec(name="s", cniVersion="1.1.0"), version="1.1.0")
    keep, drop = netns_factory(), netns_factory()
    for ns in (keep, drop):
        env = {"CNI_CONTAINERID": ns, "CNI_NETNS": f"/var/run/netns/{ns}", "CNI_IFNAME": "eth0", "CNI_PATH": PATH}
        assert run_inprocess("ADD", conf, **env).code == 0
    gc_conf = {**conf, "cni.dev/valid-attachments": [{"containerID": keep, "ifname": "eth0"}]}
    assert run_inprocess("GC", gc_conf, CNI_PATH=PATH).code == 0
    calls = recorder()[4:]
    dels = [(c["env"]["CNI_CONTAINERID"], c["env"]["CNI_IFNAME"]) for c in calls if c["env"]["CNI_COMMAND"] == "DEL"]
    assert dels == [(drop, "net1"), (drop, "eth0")]
    gcs = {c["stdin"]["name"]: c["stdin"]["cni.dev/valid-attachments"] for c in calls
           if c["env"]["CNI_COMMAND"] == "GC"}
    assert gcs == {"m": [{"containerID": keep, "ifname": "eth0"}], "s": [{"containerID": keep, "ifname": "net1"}]}


def test_runtime_ip_and_mac_requests_reach_the_master_only(networks, recorder, netns):
    caps = {"ips": True, "mac": True, "portMappings": True}
    conf = networks.multus(rec(capabilities=caps), rec(capabilities=caps),
                           runtimeConfig={"ips": ["10.1.0.5/24"], "mac": "02:00:00:00:00:05", "portMappings": []})
    env = {"CNI_CONTAINERID": "rec6", "CNI_NETNS": f"/var/run/netns/{netns}", "CNI_IFNAME": "eth0", "CNI_PATH": PATH,
           "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.1.0.5;MAC=02:00:00:00:00:05"}
    assert run_inprocess("ADD", conf, **env).code == 0
    by_ifname = {c["env"]["CNI_IFNAME"]: c for c in recorder()}
    assert by_ifname["eth0"]["env"]["CNI_ARGS"] == env["CNI_ARGS"]
    assert by_ifname["eth0"]["stdin"]["runtimeConfig"] == conf["runtimeConfig"]
    assert by_ifname["net1"]["env"]["CNI_ARGS"] == "IgnoreUnknown=1;K8S_POD_NAME=p"
    assert by_ifname["net1"]["stdin"]["runtimeConfig"] == {"portMappings": []}
    assert run_inprocess("DEL", conf, **env).code == 0
