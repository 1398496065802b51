"""Property-based: any config, env or CNI_ARGS gives a result or a CNI error with a spec code.

No input produces a traceback, and nothing is written outside the cache directory.
"""

import json
import os

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import FAKE_PLUGINS, run_inprocess

SPEC_CODES = {1, 2, 3, 4, 5, 6, 7, 8, 11, 50, 51, 999}
VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                          max_leaves=20)


def mostly(good, bad):
    """Valid input four times in five, so deep paths are explored too."""
    return st.one_of(good, good, good, good, bad)


delegate = mostly(
    st.fixed_dictionaries({"type": st.sampled_from(["noop", "noop", "noop", "missing", "../noop", ""])},
                          optional={"masterplugin": st.one_of(st.booleans(), json_leaf),
                                    "name": st.one_of(st.text(max_size=10), json_leaf),
                                    "cniVersion": st.one_of(st.sampled_from(VERSIONS), json_leaf),
                                    "capabilities": json_value,
                                    "plugins": st.lists(st.fixed_dictionaries({"type": st.just("noop")}), max_size=2)}),
    json_value)
config = st.fixed_dictionaries(
    {"type": st.just("multus"), "name": mostly(st.just("net"), json_leaf),
     "cniVersion": mostly(st.sampled_from(VERSIONS), json_leaf),
     "delegates": mostly(st.lists(delegate, min_size=1, max_size=4), json_value)},
    optional={"logLevel": st.one_of(st.sampled_from(["debug", "error", "panic"]), json_leaf),
              "runtimeConfig": json_value, "delegateTimeout": json_leaf, "binDir": json_leaf})
args_text = mostly(st.just("IgnoreUnknown=1;K8S_POD_NAME=p"), st.text(max_size=40))
ident = mostly(st.sampled_from(["cid-ok", "c.2_x-y"]),
               st.one_of(st.sampled_from(["../../etc/passwd", "a/b", "", "x" * 2000]), st.text(max_size=30)))
ifname = mostly(st.sampled_from(["eth0", "eth1"]),
                st.one_of(st.sampled_from(["a" * 16, "..", "x y", "a:b", ""]), st.text(max_size=20)))


def files_under(root):
    return {os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(conf=config, command=st.sampled_from(["ADD", "ADD", "ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION", "BOGUS"]),
       cid=ident, ifname=ifname, args=args_text, real_netns=mostly(st.just(True), st.just(False)),
       raw=mostly(st.just(False), st.just(True)))
def test_every_input_gets_a_result_or_a_spec_error(tmp_path_factory, netns, conf, command, cid, ifname, args,
                                                   real_netns, raw):
    work = tmp_path_factory.mktemp("prop")
    cache = work / "cache"
    conf = dict(conf, cniDir=str(cache))
    stdin = json.dumps(conf).encode() if not raw else json.dumps(conf).encode()[: len(json.dumps(conf)) // 2]
    before = files_under(work.parent)
    cwd = os.getcwd()
    os.chdir(work)
    try:
        out = run_inprocess(command, stdin, CNI_CONTAINERID=cid, CNI_IFNAME=ifname, CNI_ARGS=args,
                            CNI_NETNS=f"/var/run/netns/{netns}" if real_netns else "/var/run/netns/nope",
                            CNI_PATH=str(FAKE_PLUGINS))
    finally:
        os.chdir(cwd)
    event(f"{command} -> {(out.json['code'], out.json['msg'][:30]) if out.code else 'ok'}")
    assert "Traceback" not in out.stdout + out.stderr
    assert out.code in (0, 1)
    if out.code == 1:
        assert out.json["code"] in SPEC_CODES and isinstance(out.json["msg"], str)
    elif command == "ADD":
        assert isinstance(out.json, dict) and out.json["cniVersion"] in VERSIONS
    written = files_under(work.parent) - before
    assert all(path.startswith(str(cache) + os.sep) for path in written), written


good_delegate = st.fixed_dictionaries(
    {"type": st.just("noop")},
    optional={"name": st.text(max_size=10), "cniVersion": st.sampled_from(VERSIONS), "masterplugin": st.just(False),
              "capabilities": st.dictionaries(st.text(max_size=10), st.booleans(), max_size=3), "extra": json_value})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(version=st.sampled_from(VERSIONS), delegates=st.lists(good_delegate, min_size=1, max_size=4),
       runtime_config=st.dictionaries(st.text(max_size=10), json_value, max_size=3), args=args_text)
def test_valid_envelope_add_then_del_always_converges(tmp_path_factory, netns, version, delegates, runtime_config,
                                                      args):
    work = tmp_path_factory.mktemp("conv")
    conf = {"cniVersion": version, "name": "net", "type": "multus", "cniDir": str(work / "cache"),
            "delegates": delegates, "runtimeConfig": runtime_config}
    env = {"CNI_CONTAINERID": "cid-conv", "CNI_IFNAME": "eth0", "CNI_ARGS": args,
           "CNI_NETNS": f"/var/run/netns/{netns}", "CNI_PATH": str(FAKE_PLUGINS)}
    added = run_inprocess("ADD", conf, **env)
    event(f"ADD -> {added.json['code'] if added.code else 'ok'}")
    assert "Traceback" not in added.stdout + added.stderr
    if added.code:
        assert added.json["code"] in SPEC_CODES
    else:
        assert added.json["cniVersion"] == version
    deleted = run_inprocess("DEL", conf, **env)
    assert "Traceback" not in deleted.stdout + deleted.stderr
    if deleted.code == 0:
        assert not list((work / "cache").rglob("*.json"))
    else:
        assert deleted.json["code"] in SPEC_CODES
