"""Property-based: any config, env or CNI_ARGS gives a result or a CNI error with a spec code.

Each generated field is tagged valid or not. A request whose fields are all valid must get
the answer the spec prescribes (a hand-written table, below); any other request may fail, but
only with a spec code other than 999 (an internal error is a bug), never with a traceback.
No new file appears outside the cache directory.
"""

import json
import os
import tempfile

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from tests.conftest import FAKE_PLUGINS, run_inprocess

SPEC_CODES = {1, 2, 3, 4, 5, 6, 7, 8, 11, 50, 51}
VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                          max_leaves=20)


def mostly(good, bad):
    """(value, is_valid): valid four times in five, so deep paths are explored too."""
    ok = good.map(lambda v: (v, True))
    return st.one_of(ok, ok, ok, ok, bad.map(lambda v: (v, False)))


good_delegate = st.fixed_dictionaries(
    {"type": st.just("noop")},
    optional={"name": st.text(max_size=10), "cniVersion": st.sampled_from(VERSIONS), "masterplugin": st.just(False),
              "capabilities": st.dictionaries(st.text(max_size=10), st.booleans(), max_size=3)})
good_conflist = st.fixed_dictionaries({"plugins": st.lists(st.fixed_dictionaries({"type": st.just("noop")}),
                                                           min_size=1, max_size=2)},
                                      optional={"name": st.text(max_size=10), "cniVersion": st.sampled_from(VERSIONS)})
bad_delegate = st.one_of(
    json_value,
    st.fixed_dictionaries({"type": st.sampled_from(["missing", "../noop", "", "a/b"])}),
    st.fixed_dictionaries({"type": st.just("noop"), "masterplugin": json_leaf, "cniVersion": json_leaf}),
    st.fixed_dictionaries({"plugins": st.one_of(st.just([]), json_value)}))
delegates = mostly(st.lists(st.one_of(good_delegate, good_conflist), min_size=1, max_size=4),
                   st.one_of(json_value, st.lists(bad_delegate, min_size=1, max_size=3)))
name = mostly(st.just("net"), json_leaf)
version = mostly(st.sampled_from(VERSIONS), json_leaf)
log_level = mostly(st.sampled_from(["debug", "error", "panic", "verbose"]), json_leaf)
args_text = mostly(st.sampled_from(["IgnoreUnknown=1;K8S_POD_NAME=p", "", "K8S_POD_NAME=p;X=a=b"]),
                   st.text(max_size=40))
ident = mostly(st.sampled_from(["cid-ok", "c.2_x-y"]),
               st.one_of(st.sampled_from(["../../etc/passwd", "a/b", "", "x" * 2000]), st.text(max_size=30)))
ifname = mostly(st.sampled_from(["eth0", "eth1"]),
                st.one_of(st.sampled_from(["a" * 16, "..", "x y", "a:b", ""]), st.text(max_size=20)))
netns_ok = mostly(st.just(True), st.just(False))
whole_stdin = mostly(st.just(True), st.just(False))


def expected_for_valid(command, cni_version):
    """The spec's answer to a well-formed request on a fresh cache: (exit code, CNI error code or None)."""
    def at_least(minimum):
        return tuple(map(int, cni_version.split("."))) >= tuple(map(int, minimum.split(".")))

    if command == "BOGUS":
        return 1, 4
    if command == "CHECK":
        return (1, 3) if at_least("0.4.0") else (1, 1)
    if command in ("STATUS", "GC"):
        return (0, None) if at_least("1.1.0") else (1, 1)
    return 0, None


def watched_roots(work):
    return [str(work), "/var/lib/cni", "/run", "/etc/cni", "/var/log"]


def files_now(roots, skip):
    """Every file under `roots` (not descending into `skip` prefixes or other tests' pytest dirs), the
    temp directory's top level and its `multus*` trees (other programs' own temp trees change while the
    suite runs), and the top level of the home directory (a home holds whole toolchains)."""
    home, tmp = os.path.expanduser("~"), tempfile.gettempdir()
    found = {os.path.join(home, n) for n in os.listdir(home)} | {os.path.join(tmp, n) for n in os.listdir(tmp)}
    roots = roots + [os.path.join(tmp, n) for n in os.listdir(tmp) if n.startswith("multus")]
    for root in roots:
        for directory, subdirs, files in os.walk(root):
            subdirs[:] = [d for d in subdirs if not any(os.path.join(directory, d).startswith(s) for s in skip)
                          and not d.startswith("pytest-of-")]
            found.update(os.path.join(directory, f) for f in files)
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(name=name, version=version, delegates=delegates, log_level=log_level,
       command=st.sampled_from(["ADD", "ADD", "ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION", "BOGUS"]),
       cid=ident, ifname=ifname, args=args_text, real_netns=netns_ok, whole=whole_stdin)
def test_every_input_gets_a_result_or_a_spec_error(tmp_path_factory, netns, name, version, delegates, log_level,
                                                   command, cid, ifname, args, real_netns, whole):
    work = tmp_path_factory.mktemp("prop")
    cache = work / "cache"
    conf = {"type": "multus", "name": name[0], "cniVersion": version[0], "delegates": delegates[0],
            "logLevel": log_level[0], "cniDir": str(cache)}
    stdin = json.dumps(conf).encode()
    if not whole[0]:
        stdin = stdin[: len(stdin) // 2]
    fields = (name, version, delegates, log_level, cid, ifname, args, real_netns, whole)
    valid = all(ok for _, ok in fields)
    skip = [str(cache), "/run/netns"]
    before = files_now(watched_roots(work), skip)
    cwd = os.getcwd()
    os.chdir(work)
    try:
        out = run_inprocess(command, stdin, CNI_CONTAINERID=cid[0], CNI_IFNAME=ifname[0], CNI_ARGS=args[0],
                            CNI_NETNS=f"/var/run/netns/{netns}" if real_netns[0] else "/var/run/netns/nope",
                            CNI_PATH=str(FAKE_PLUGINS))
    finally:
        os.chdir(cwd)
    event(f"{command} {'valid' if valid else 'invalid'} -> {out.json['code'] if out.code else 'ok'}")
    assert "Traceback" not in out.stdout + out.stderr
    if valid:
        code, cni_code = expected_for_valid(command, version[0])
        assert (out.code, out.json["code"] if out.code else None) == (code, cni_code), out
    elif out.code:
        assert out.code == 1 and out.json["code"] in SPEC_CODES and isinstance(out.json["msg"], str), out
    if out.code == 0 and command == "ADD":
        implicit = "0.1.0"  # the spec's version of a config without cniVersion
        assert isinstance(out.json, dict) and out.json["cniVersion"] == (version[0] or implicit)
    written = files_now(watched_roots(work), skip) - before
    assert not written, written


def strictly_valid(args):
    """CNI_ARGS as the spec defines it: ';'-separated KEY=VALUE items (empty items allowed), and no NUL
    byte (no process environment can hold one)."""
    return "\0" not in args and all("=" in item and item.partition("=")[0].strip() for item in args.split(";") if item)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(version=st.sampled_from(VERSIONS), delegates=st.lists(good_delegate, min_size=1, max_size=4),
       runtime_config=st.dictionaries(st.text(max_size=10), json_value, max_size=3), args=args_text)
@example(version="0.1.0", delegates=[{"type": "noop"}], runtime_config={}, args=("\x00=", False))  # found once
def test_valid_envelope_add_then_del_always_converges(tmp_path_factory, netns, version, delegates, runtime_config,
                                                      args):
    work = tmp_path_factory.mktemp("conv")
    conf = {"cniVersion": version, "name": "net", "type": "multus", "cniDir": str(work / "cache"),
            "delegates": delegates, "runtimeConfig": runtime_config}
    env = {"CNI_CONTAINERID": "cid-conv", "CNI_IFNAME": "eth0", "CNI_ARGS": args[0],
           "CNI_NETNS": f"/var/run/netns/{netns}", "CNI_PATH": str(FAKE_PLUGINS)}
    added = run_inprocess("ADD", conf, **env)
    event(f"ADD -> {added.json['code'] if added.code else 'ok'}")
    assert "Traceback" not in added.stdout + added.stderr
    if strictly_valid(args[0]):
        assert added.code == 0 and added.json["cniVersion"] == version, added
    else:
        assert (added.code, added.json["code"]) == (1, 4), added
    deleted = run_inprocess("DEL", conf, **env)
    assert deleted.code == 0, deleted
    assert not [p for p in (work / "cache").rglob("*") if p.is_file()]
