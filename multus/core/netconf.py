"""The Multus network config: load, apply defaults, validate with messages that say where.

Mirrors upstream's field names (multus-behaviour.md §2) and the original Multus delegate
rules (§23): every delegate needs a `type`, at most one has `"masterplugin": true`.
"""

from __future__ import annotations

import os

from multus.cni import version as ver
from multus.cni.errors import INVALID_CONFIG, CniError
from multus.cni.invoke import check_plugin_name
from multus.core.log import LEVELS

DEFAULT_CNI_DIR = "/var/lib/cni/multus"
DEFAULT_BIN_DIR = "/opt/cni/bin"
DEFAULT_CONF_DIR = "/etc/cni/multus/net.d"
DEFAULT_DELEGATE_TIMEOUT = 120.0
DEFAULT_MULTUS_NAMESPACE = "kube-system"
DEFAULT_READINESS_TIMEOUT = 45.0
# A request to the API server may take this long before it counts as unreachable: seconds, not the
# milliseconds upstream allows, because a loaded API server can take over a second to answer.
DEFAULT_API_TIMEOUT = 10.0
# How long ADD keeps asking for its pod while the API answers 5xx or refuses connections (upstream's poll).
DEFAULT_POD_WAIT = 2.5
DEFAULT_CHECKPOINT = "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint"
DEFAULT_DEVINFO_DIR = "/var/run/k8s.cni.cncf.io/devinfo"
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


def _strings(conf: dict, key: str, default: list[str]) -> list[str]:
    value = conf.get(key, default)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(f"{key!r} must be a list of non-empty strings")
    return list(value)


def _flag(conf: dict, key: str, default: bool) -> bool:
    value = conf.get(key, default)
    if not isinstance(value, bool):
        raise _fail(f"{key!r} must be true or false")
    return value


def _seconds(conf: dict, key: str, default: float, high: float = 3600) -> float:
    value = conf.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= high:
        raise _fail(f"{key!r} must be a number of seconds between 0 and {high:g}")
    return float(value)


def check_delegate(delegate: object, where: str) -> bool:
    """Validate a network config from any source (static list, file, NAD); return its master flag."""
    return _check_delegate(delegate, where)


class NetConf:
    """A validated Multus config. `delegates` keeps the operator's order and raw objects.

    Keys keep upstream's names and meanings (multus-behaviour.md §2); the Kubernetes ones only
    matter when a kubeconfig (or in-cluster credentials) gives API access.
    """

    __slots__ = ("raw", "name", "cni_version", "delegates", "master_index", "cni_dir", "bin_dir",
                 "conf_dir", "log_level", "log_file", "log_to_stderr", "runtime_config",
                 "delegate_timeout", "concurrent_delegates", "kubeconfig", "cluster_network", "default_networks",
                 "multus_namespace", "system_namespaces", "namespace_isolation", "global_namespaces",
                 "readiness_file", "readiness_timeout", "api_timeout", "pod_wait", "kubelet_checkpoint",
                 "devinfo_dir", "nad_allowed_types", "annotations_from_runtime")

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
        self.log_to_stderr = _flag(raw, "logToStderr", True)
        runtime_config = raw.get("runtimeConfig", {})
        if not isinstance(runtime_config, dict):
            raise _fail("'runtimeConfig' must be an object")
        self.runtime_config = runtime_config
        self.delegate_timeout = _seconds(raw, "delegateTimeout", DEFAULT_DELEGATE_TIMEOUT)
        self.concurrent_delegates = _flag(raw, "concurrentDelegates", DEFAULT_CONCURRENT)
        self._kubernetes(raw)
        delegates = raw.get("delegates")
        if delegates is None and self.cluster_network:
            delegates = []
        if not isinstance(delegates, list) or (not delegates and not self.cluster_network):
            raise _fail("at least one delegate or a clusterNetwork must be specified "
                        "('delegates' must be a non-empty list of delegate network configs)")
        masters = [i for i, d in enumerate(delegates) if _check_delegate(d, f"delegates[{i}]")]
        if len(masters) > 1:
            raise _fail(f"delegates[{masters[0]}] and delegates[{masters[1]}] both set 'masterplugin': "
                        f"at most one delegate can be the master")
        self.delegates: list[dict] = delegates
        self.master_index = masters[0] if masters else 0

    def _kubernetes(self, raw: dict) -> None:
        self.kubeconfig = _string(raw, "kubeconfig", "", absolute=True)
        self.cluster_network = _string(raw, "clusterNetwork", "")
        self.default_networks = _strings(raw, "defaultNetworks", [])
        self.multus_namespace = _string(raw, "multusNamespace", DEFAULT_MULTUS_NAMESPACE) or DEFAULT_MULTUS_NAMESPACE
        self.system_namespaces = _strings(raw, "systemNamespaces", ["kube-system"])
        self.namespace_isolation = _flag(raw, "namespaceIsolation", False)
        # Upstream: a set globalNamespaces *replaces* the implicit "default" (quirk Q14, kept: documented).
        spec = _string(raw, "globalNamespaces", "")
        self.global_namespaces = [n.strip() for n in spec.split(",") if n.strip()] if spec else ["default"]
        self.readiness_file = _string(raw, "readinessindicatorfile", "")
        if self.readiness_file:
            self.readiness_file = os.path.abspath(os.path.normpath(self.readiness_file))
        self.readiness_timeout = _seconds(raw, "readinessindicatorTimeout", DEFAULT_READINESS_TIMEOUT)
        self.api_timeout = _seconds(raw, "apiTimeout", DEFAULT_API_TIMEOUT, 300)
        self.pod_wait = _seconds(raw, "podLookupTimeout", DEFAULT_POD_WAIT, 300)
        self.kubelet_checkpoint = _string(raw, "kubeletCheckpointFile", DEFAULT_CHECKPOINT, absolute=True)
        self.devinfo_dir = _string(raw, "deviceInfoDir", DEFAULT_DEVINFO_DIR, absolute=True)
        allowed = raw.get("nadAllowedPlugins")
        self.nad_allowed_types: list[str] | None = None if allowed is None else _strings(raw, "nadAllowedPlugins", [])
        self.annotations_from_runtime = _flag(raw, "podAnnotationsFromRuntime", False)

    @property
    def plugin_path(self) -> list[str]:
        return [self.bin_dir] if self.bin_dir else []


def load(raw: dict) -> NetConf:
    return NetConf(raw)
