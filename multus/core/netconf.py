"""The Multus network config: load, apply defaults, validate with messages that say where.

Mirrors upstream's field names (multus-behaviour.md §2) and the original Multus delegate
rules (§23): every delegate needs a `type`, at most one has `"masterplugin": true`.
"""

from __future__ import annotations

from multus.cni import version as ver
from multus.cni.errors import INVALID_CONFIG, CniError
from multus.cni.invoke import check_plugin_name
from multus.core.log import LEVELS

DEFAULT_CNI_DIR = "/var/lib/cni/multus"
DEFAULT_BIN_DIR = "/opt/cni/bin"
DEFAULT_CONF_DIR = "/etc/cni/multus/net.d"
DEFAULT_DELEGATE_TIMEOUT = 120.0
# Delegates run one after another, in list order, as the original Multus documents: operators chain
# delegates that depend on each other. `concurrentDelegates: true` trades that order for speed.
DEFAULT_CONCURRENT = False


def _fail(msg: str) -> CniError:
    return CniError(INVALID_CONFIG, msg)


def _string(conf: dict, key: str, default: str, where: str = "", absolute: bool = False) -> str:
    value = conf.get(key, default)
    if not isinstance(value, str):
        raise _fail(f"{where}{key!r} must be a string")
    if absolute and value and not value.startswith("/"):
        raise _fail(f"{where}{key!r} must be an absolute path, got {value!r}")
    return value


def _check_delegate(delegate: object, where: str) -> bool:
    """Validate one delegate; return whether it is marked master."""
    if not isinstance(delegate, dict):
        raise _fail(f"{where}: must be a JSON object")
    master = delegate.get("masterplugin", False)
    if not isinstance(master, bool):
        raise _fail(f"{where}: 'masterplugin' must be true or false")
    if "plugins" in delegate:
        plugins = delegate["plugins"]
        if not isinstance(plugins, list) or not plugins:
            raise _fail(f"{where}: 'plugins' must be a non-empty list")
        for j, plugin in enumerate(plugins):
            _check_plugin(plugin, f"{where}.plugins[{j}]")
    else:
        _check_plugin(delegate, where)
    for key in ("name", "cniVersion"):
        if key in delegate and not isinstance(delegate[key], str):
            raise _fail(f"{where}: {key!r} must be a string")
    if "cniVersion" in delegate:
        try:
            ver.parse(delegate["cniVersion"])
        except CniError as exc:
            raise _fail(f"{where}: {exc.msg}") from None
    return master


def _check_plugin(plugin: object, where: str) -> None:
    if not isinstance(plugin, dict):
        raise _fail(f"{where}: must be a JSON object")
    if "type" not in plugin:
        raise _fail(f"{where}: missing 'type'")
    try:
        check_plugin_name(plugin["type"])
    except CniError as exc:
        raise _fail(f"{where}: {exc.msg}") from None
    caps = plugin.get("capabilities", {})
    if not isinstance(caps, dict):
        raise _fail(f"{where}: 'capabilities' must be an object")


class NetConf:
    """A validated Multus config. `delegates` keeps the operator's order and raw objects."""

    __slots__ = ("raw", "name", "cni_version", "delegates", "master_index", "cni_dir", "bin_dir",
                 "conf_dir", "log_level", "log_file", "log_to_stderr", "runtime_config",
                 "delegate_timeout", "concurrent_delegates")

    def __init__(self, raw: dict) -> None:
        self.raw = raw
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise _fail("missing network name")
        self.name = name
        self.cni_version = ver.of_config(raw)
        self.cni_dir = _string(raw, "cniDir", DEFAULT_CNI_DIR, absolute=True) or DEFAULT_CNI_DIR
        self.bin_dir = _string(raw, "binDir", DEFAULT_BIN_DIR)
        self.conf_dir = _string(raw, "confDir", DEFAULT_CONF_DIR)
        self.log_file = _string(raw, "logFile", "", absolute=True)
        level = _string(raw, "logLevel", "error")
        if level.lower() not in LEVELS:
            raise _fail(f"'logLevel' must be one of {sorted(LEVELS)}, got {level!r}")
        self.log_level = level.lower()
        to_stderr = raw.get("logToStderr", True)
        if not isinstance(to_stderr, bool):
            raise _fail("'logToStderr' must be true or false")
        self.log_to_stderr = to_stderr
        runtime_config = raw.get("runtimeConfig", {})
        if not isinstance(runtime_config, dict):
            raise _fail("'runtimeConfig' must be an object")
        self.runtime_config = runtime_config
        timeout = raw.get("delegateTimeout", DEFAULT_DELEGATE_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
            raise _fail("'delegateTimeout' must be a number of seconds between 0 and 3600")
        self.delegate_timeout = float(timeout)
        concurrent = raw.get("concurrentDelegates", DEFAULT_CONCURRENT)
        if not isinstance(concurrent, bool):
            raise _fail("'concurrentDelegates' must be true or false")
        self.concurrent_delegates = concurrent
        delegates = raw.get("delegates")
        if not isinstance(delegates, list) or not delegates:
            raise _fail("'delegates' must be a non-empty list of delegate network configs")
        masters = [i for i, d in enumerate(delegates) if _check_delegate(d, f"delegates[{i}]")]
        if len(masters) > 1:
            raise _fail(f"delegates[{masters[0]}] and delegates[{masters[1]}] both set 'masterplugin': "
                        f"at most one delegate can be the master")
        self.delegates: list[dict] = delegates
        self.master_index = masters[0] if masters else 0

    @property
    def plugin_path(self) -> list[str]:
        return [self.bin_dir] if self.bin_dir else []


def load(raw: dict) -> NetConf:
    return NetConf(raw)
