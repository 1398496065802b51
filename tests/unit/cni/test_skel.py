"""The protocol edge: every bad input is one CNI error document with a spec code."""

import io
import json

import pytest

from multus.cni import skel
from multus.cni.version import SUPPORTED

ENV = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0", "CNI_PATH": "/nonexistent"}
CONF = {"cniVersion": "1.0.0", "name": "n", "type": "multus", "delegates": [{"type": "bridge"}]}


def dispatch(command, stdin, handlers=None, **env):
    out = io.BytesIO()
    environ = {**ENV, "CNI_COMMAND": command, **env}
    code = skel.dispatch(handlers or {}, environ, stdin if isinstance(stdin, bytes) else json.dumps(stdin).encode(), out)
    text = out.getvalue().decode()
    assert "Traceback" not in text
    return code, json.loads(text) if text.strip() else None


def test_version_ignores_stdin():
    code, doc = dispatch("VERSION", b"garbage")
    assert code == 0
    assert doc == {"cniVersion": "1.1.0", "supportedVersions": list(SUPPORTED)}


@pytest.mark.parametrize("stdin, code", [
    (b"", 6), (b"not json", 6), (b"[1,2]", 6), (b"\xff\xfe", 6), (b"[" * 100000, 6),
    (b'{"cniVersion": "9.9.9", "name": "n"}', 1), (b'{"cniVersion": "one", "name": "n"}', 1),
    (b'{"cniVersion": 1, "name": "n"}', 1),
])
def test_bad_stdin(stdin, code):
    rc, doc = dispatch("ADD", stdin)
    assert rc == 1
    assert doc["code"] == code


def test_oversized_config_is_refused():
    rc, doc = dispatch("ADD", b" " * (skel.MAX_CONFIG_BYTES + 1))
    assert (rc, doc["code"]) == (1, 7)


@pytest.mark.parametrize("env, fragment", [
    ({"CNI_COMMAND": "BOGUS"}, "unknown CNI_COMMAND"),
    ({"CNI_NETNS": ""}, "CNI_NETNS"),
    ({"CNI_CONTAINERID": "../../etc"}, "invalid container ID"),
    ({"CNI_IFNAME": "way-too-long-ifname"}, "longer than 15"),
    ({"CNI_IFNAME": "a/b"}, "contains '/'"),
    ({"CNI_IFNAME": ".."}, "not allowed"),
    ({"CNI_ARGS": "K8S_POD_NAME=a\0b"}, "'CNI_ARGS' cannot be passed to a plugin"),
    ({"HTTP_PROXY\0": "x"}, "cannot be passed"),
    ({"A=B": "x"}, "cannot be passed"),
    ({"": "x"}, "cannot be passed"),
    ({"LANG": "\ud800"}, "cannot be passed"),
])
def test_bad_env_is_code_4(env, fragment):
    rc, doc = dispatch(env.pop("CNI_COMMAND", "ADD"), CONF, **env)
    assert (rc, doc["code"]) == (1, 4)
    assert fragment in doc["msg"]


@pytest.mark.parametrize("command, version", [("CHECK", "0.3.1"), ("STATUS", "1.0.0"), ("GC", "1.0.0")])
def test_commands_gated_on_version(command, version):
    rc, doc = dispatch(command, {**CONF, "cniVersion": version})
    assert (rc, doc["code"]) == (1, 1)
    assert f"does not support the {command} command" in doc["msg"]
    assert doc["cniVersion"] == version


def test_unexpected_exception_is_999_with_config_version():
    def boom(cmd, conf):
        raise KeyError("oops")
    crashes = []
    out = io.BytesIO()
    code = skel.dispatch({"ADD": boom}, {**ENV, "CNI_COMMAND": "ADD"}, json.dumps({**CONF, "cniVersion": "0.4.0"}).encode(),
                         out, crashes.append)
    doc = json.loads(out.getvalue())
    assert code == 1 and doc["code"] == 999 and doc["cniVersion"] == "0.4.0"
    assert "KeyError" in doc["msg"] and len(crashes) == 1


def test_handler_result_is_printed_once():
    code, doc = dispatch("ADD", CONF, {"ADD": lambda cmd, conf: {"cniVersion": "1.0.0", "ips": []}})
    assert code == 0 and doc == {"cniVersion": "1.0.0", "ips": []}


def test_deeply_nested_but_parseable_config_is_refused():
    nested = {"cniVersion": "1.0.0", "name": "n", "x": []}
    cur = nested["x"]
    for _ in range(100):
        cur.append([])
        cur = cur[0]
    rc, doc = dispatch("ADD", nested)
    assert (rc, doc["code"]) == (1, 7) and "nested deeper" in doc["msg"]


def test_del_goes_on_without_variables_no_process_could_be_given():
    seen = []
    handlers = {"DEL": lambda cmd, conf: seen.append((cmd.args, sorted(cmd.environ)))}
    rc, _ = dispatch("DEL", CONF, handlers, CNI_ARGS="K8S_POD_NAME=a\0b", EXTRA="ok")
    assert rc == 0
    assert seen == [("", sorted({*ENV, "CNI_COMMAND", "EXTRA"}))]
