"""What each delegate is sent, recorded by a test-double plugin, plus STATUS and GC."""

import json
import os

from tests.conftest import FAKE_PLUGINS, addrs_in, attach_env, links_in, reservations, run_inprocess

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


def test_status_reaches_only_the_master_and_passes_its_code(networks, recorder, tmp_path):
    conf = networks.multus(rec(name="m", cniVersion="1.1.0"), rec(name="s", cniVersion="1.1.0"), version="1.1.0")
    assert run_inprocess("STATUS", conf, CNI_PATH=PATH).code == 0
    assert [(c["env"]["CNI_COMMAND"], c["stdin"]["name"]) for c in recorder()] == [("STATUS", "m")]
    plugin = tmp_path / "unavailable"
    plugin.write_text("#!/bin/sh\ncat >/dev/null\n"
                      "echo '{\"cniVersion\":\"1.1.0\",\"code\":50,\"msg\":\"plugin not available\"}'\nexit 1\n")
    plugin.chmod(0o755)
    down = networks.multus({"type": "unavailable", "cniVersion": "1.1.0"}, rec(cniVersion="1.1.0"), version="1.1.0")
    answer = run_inprocess("STATUS", down, CNI_PATH=f"{tmp_path}:{PATH}")
    assert (answer.code, answer.json["code"], answer.json["msg"]) == (1, 50, "plugin not available")
    assert len(recorder()) == 1, "the secondary is not asked"


def test_gc_removes_only_its_own_networks_stale_attachments(netns_factory, networks):
    """Two multus networks share one cniDir; GC of net-a never touches net-b's pod."""
    net_a = networks.multus(networks.bridge("10.251.0.0/24", cniVersion="1.0.0"), version="1.1.0", name="net-a")
    net_b = networks.multus(networks.bridge("10.251.4.0/24", cniVersion="1.0.0"), version="1.1.0", name="net-b")
    keep, drop, other = netns_factory(), netns_factory(), netns_factory()
    for ns, conf in ((keep, net_a), (drop, net_a), (other, net_b)):
        assert run_inprocess("ADD", conf, **attach_env(ns)).code == 0
    other_addrs = addrs_in(other)["eth0"]
    gc_conf = {**net_a, "cni.dev/valid-attachments": [{"containerID": f"cid-{keep}", "ifname": "eth0"}]}
    done = run_inprocess("GC", gc_conf)
    assert done.code == 0, done
    assert links_in(drop) == ["lo"]
    assert set(links_in(keep)) == {"lo", "eth0"}
    assert addrs_in(other)["eth0"] == other_addrs, "another network's pod keeps its interface and address"
    assert sorted(os.listdir(networks.state_dir / "attachments")) == sorted([f"cid-{keep}", f"cid-{other}"])
    assert len(reservations(networks.ipam_dir)) == 2
    for ns, conf in ((keep, net_a), (other, net_b)):
        assert run_inprocess("DEL", conf, **attach_env(ns)).code == 0


def test_gc_keeps_a_valid_attachment_whose_state_is_unreadable(networks, recorder, netns_factory):
    conf = networks.multus(rec(name="m", cniVersion="1.1.0"), rec(name="s", cniVersion="1.1.0"), version="1.1.0")
    broken, fine = netns_factory(), netns_factory()
    for ns in (broken, fine):
        env = {"CNI_CONTAINERID": ns, "CNI_NETNS": f"/var/run/netns/{ns}", "CNI_IFNAME": "eth0", "CNI_PATH": PATH}
        assert run_inprocess("ADD", conf, **env).code == 0
    (networks.state_dir / "attachments" / broken / "eth0.json").write_text("{corrupt")
    valid = [{"containerID": broken, "ifname": "eth0"}, {"containerID": fine, "ifname": "eth0"}]
    done = run_inprocess("GC", {**conf, "cni.dev/valid-attachments": valid}, CNI_PATH=PATH)
    assert done.code == 0, done
    assert f"keeping {broken}/eth0" in done.stderr
    calls = recorder()[4:]
    assert not [c for c in calls if c["env"]["CNI_COMMAND"] == "DEL"]
    gcs = {c["stdin"]["name"]: c["stdin"]["cni.dev/valid-attachments"] for c in calls
           if c["env"]["CNI_COMMAND"] == "GC"}
    assert sorted(map(str, gcs["m"])) == sorted(map(str, [{"containerID": broken, "ifname": "eth0"},
                                                          {"containerID": fine, "ifname": "eth0"}]))
    assert sorted(map(str, gcs["s"])) == sorted(map(str, [{"containerID": broken, "ifname": "net1"},
                                                          {"containerID": fine, "ifname": "net1"}]))
    assert (networks.state_dir / "attachments" / broken / "eth0.json").exists()


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


def test_secondaries_run_in_list_order_by_default(networks, recorder, netns):
    conf = networks.multus(*[rec(marker=i) for i in range(12)])
    env = {"CNI_CONTAINERID": "order", "CNI_NETNS": f"/var/run/netns/{netns}", "CNI_IFNAME": "eth0", "CNI_PATH": PATH}
    assert "concurrentDelegates" not in conf
    assert run_inprocess("ADD", conf, **env).code == 0
    assert [c["stdin"]["marker"] for c in recorder()] == list(range(12))
    assert [c["env"]["CNI_IFNAME"] for c in recorder()] == ["eth0"] + [f"net{i}" for i in range(1, 12)]
    assert run_inprocess("DEL", conf, **env).code == 0
    assert [c["stdin"]["marker"] for c in recorder()[12:]] == list(reversed(range(12)))


def test_a_failed_delegate_starts_nothing_after_it_by_default(networks, recorder, monkeypatch, netns):
    monkeypatch.setenv("RECORDER_FAIL", "ADD:net2")
    conf = networks.multus(*[rec(marker=i) for i in range(5)])
    env = {"CNI_CONTAINERID": "stop", "CNI_NETNS": f"/var/run/netns/{netns}", "CNI_IFNAME": "eth0", "CNI_PATH": PATH}
    added = run_inprocess("ADD", conf, **env)
    assert (added.code, added.json["code"]) == (1, 11)
    assert [(c["env"]["CNI_COMMAND"], c["stdin"]["marker"]) for c in recorder()] == [
        ("ADD", 0), ("ADD", 1), ("ADD", 2), ("DEL", 2), ("DEL", 1), ("DEL", 0)]


def test_an_unexpected_exception_in_a_delegate_run_is_a_999_and_rolls_back(networks, recorder, monkeypatch, netns):
    """Sequential and concurrent alike: a crash in a delegate run is never a success."""
    from multus.cni import runtime

    real_add = runtime.Network.add

    def crashing_add(self, cni, rt, observer=None):
        if rt.ifname == "net2":
            raise KeyError("injected")
        return real_add(self, cni, rt, observer)

    monkeypatch.setattr(runtime.Network, "add", crashing_add)
    for concurrent in (False, True):
        conf = networks.multus(rec(), rec(), rec(), rec(), concurrentDelegates=concurrent)
        cid = f"crash-{concurrent}"
        env = {"CNI_CONTAINERID": cid, "CNI_NETNS": f"/var/run/netns/{netns}", "CNI_IFNAME": "eth0", "CNI_PATH": PATH}
        before = len(recorder())
        added = run_inprocess("ADD", conf, **env)
        assert (added.code, added.json["code"]) == (1, 999), added
        assert "KeyError" in added.json["msg"] and "injected" in added.json["msg"]
        calls = [(c["env"]["CNI_COMMAND"], c["env"]["CNI_IFNAME"]) for c in recorder()[before:]]
        adds = {i for cmd, i in calls if cmd == "ADD"}
        dels = {i for cmd, i in calls if cmd == "DEL"}
        assert adds <= dels, "every started delegate was rolled back"
        assert not (networks.state_dir / "attachments" / cid).exists()


def test_check_holds_the_container_lock_while_its_delegates_run(networks, netns, tmp_path):
    import fcntl
    import subprocess
    import time

    from tests.conftest import BINARY, cni_env

    marker = tmp_path / "checking"
    slow = tmp_path / "slowcheck"
    slow.write_text(f'#!/bin/sh\ncat >/dev/null\ncase "$CNI_COMMAND" in\n'
                    f'ADD) echo \'{{"cniVersion":"1.0.0","interfaces":[{{"name":"eth0"}}]}}\' ;;\n'
                    f'CHECK) touch {marker}; sleep 3 ;;\nesac\nexit 0\n')
    slow.chmod(0o755)
    conf = networks.multus({"type": "slowcheck", "cniVersion": "1.0.0"})
    env = {"CNI_CONTAINERID": "lockd", "CNI_NETNS": f"/var/run/netns/{netns}", "CNI_IFNAME": "eth0",
           "CNI_PATH": str(tmp_path)}
    assert run_inprocess("ADD", conf, **env).code == 0
    proc = subprocess.Popen([str(BINARY)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=cni_env("CHECK", **env))
    proc.stdin.write(json.dumps(conf).encode())
    proc.stdin.close()
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), "the CHECK delegate ran"
    lock = os.open(networks.state_dir / "locks" / "lockd", os.O_RDWR)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = False
        except BlockingIOError:
            held = True
        assert held, "CHECK released the container lock before its delegate finished"
    finally:
        os.close(lock)
        assert proc.wait(timeout=60) == 0
    assert run_inprocess("DEL", conf, **env).code == 0
