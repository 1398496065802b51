import pytest

from multus.cni.errors import INVALID_CONFIG, CniError
from multus.core.netconf import DEFAULT_CNI_DIR, load


def conf(**kw):
    base = {"cniVersion": "1.0.0", "name": "m", "type": "multus", "delegates": [{"type": "bridge"}]}
    base.update(kw)
    return base


def error_of(raw) -> str:
    with pytest.raises(CniError) as info:
        load(raw)
    assert info.value.code == INVALID_CONFIG
    return info.value.msg


def test_defaults():
    netconf = load(conf())
    assert netconf.cni_dir == DEFAULT_CNI_DIR
    assert netconf.bin_dir == "/opt/cni/bin"
    assert netconf.conf_dir == "/etc/cni/multus/net.d"
    assert netconf.master_index == 0
    assert netconf.log_to_stderr is True


def test_missing_version_means_0_1_0():
    raw = conf()
    del raw["cniVersion"]
    assert load(raw).cni_version == "0.1.0"


@pytest.mark.parametrize("raw, message", [
    (conf(name=""), "missing network name"),
    ({"type": "multus", "delegates": [{"type": "x"}]}, "missing network name"),
    (conf(delegates=[]), "'delegates' must be a non-empty list"),
    (conf(delegates={"type": "x"}), "'delegates' must be a non-empty list"),
    (conf(delegates=[{"type": "bridge"}, {"name": "x"}]), "delegates[1]: missing 'type'"),
    (conf(delegates=[{"type": "bridge"}, "bridge"]), "delegates[1]: must be a JSON object"),
    (conf(delegates=[{"type": "../../bin/sh"}]), "delegates[0]: plugin type '../../bin/sh' must be a plain"),
    (conf(delegates=[{"type": 7}]), "delegates[0]: plugin type '7' must be a plain"),
    (conf(delegates=[{"type": "a", "masterplugin": "yes"}]), "delegates[0]: 'masterplugin' must be true or false"),
    (conf(delegates=[{"type": "a", "masterplugin": True}, {"type": "b"}, {"type": "c", "masterplugin": True}]),
     "delegates[0] and delegates[2] both set 'masterplugin'"),
    (conf(delegates=[{"name": "l", "plugins": []}]), "delegates[0]: 'plugins' must be a non-empty list"),
    (conf(delegates=[{"name": "l", "plugins": [{"type": "a"}, {"mtu": 1}]}]), "delegates[0].plugins[1]: missing 'type'"),
    (conf(delegates=[{"type": "a", "cniVersion": "one"}]), "delegates[0]: invalid version 'one'"),
    (conf(delegates=[{"type": "a", "capabilities": []}]), "delegates[0]: 'capabilities' must be an object"),
    (conf(cniDir="relative/dir"), "'cniDir' must be an absolute path"),
    (conf(cniDir=5), "'cniDir' must be a string"),
    (conf(logLevel="loud"), "'logLevel' must be one of"),
    (conf(logToStderr="no"), "'logToStderr' must be true or false"),
    (conf(delegateTimeout=0), "'delegateTimeout' must be a number"),
    (conf(runtimeConfig=[]), "'runtimeConfig' must be an object"),
])
def test_validation_says_what_and_where(raw, message):
    assert message in error_of(raw)


def test_master_is_the_flagged_delegate():
    netconf = load(conf(delegates=[{"type": "a"}, {"type": "b"}, {"type": "c", "masterplugin": True}]))
    assert netconf.master_index == 2


def test_conflist_delegate_is_accepted():
    netconf = load(conf(delegates=[{"name": "l", "cniVersion": "1.0.0", "plugins": [{"type": "a"}, {"type": "b"}]}]))
    assert netconf.delegates[0]["plugins"][1]["type"] == "b"
