"""The generated `00-multus.conf` (or `.conflist` for CNI >= 1.0.0), from the node's primary network config.

The primary is the lexically first `*.conf`/`*.conflist` of the CNI config directory that is
not ours (multus-behaviour.md §20-21). Thin: multus with the primary as its only static
delegate. Thick: `type: multus-shim` with `clusterNetwork` pointing at the primary's file, plus
what the shim needs to run a request itself while the daemon is away (kubeconfig, cniDir,
confDir, binDir, the daemon's socket). Capabilities: the union of those the primary enables.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading

from multus.cni import conffiles
from multus.cni import version as ver
from multus.cni.errors import INVALID_CONFIG, CniError
from multus.fileutil import makedirs_private, write_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from multus.core.log import Logger
    from multus.daemon.config import DaemonConfig

GENERATED_PREFIX = "00-multus"
NETWORK_NAME = "multus-cni-network"
PASS_THROUGH = ("logLevel", "logFile", "logToStderr", "namespaceIsolation", "globalNamespaces", "multusNamespace",
                "systemNamespaces", "defaultNetworks", "readinessindicatorfile", "cniDir", "binDir", "confDir",
                "daemonSocketDir", "daemonConfig", "daemonFallback", "nadAllowedPlugins", "kubeconfig")


def primary_file(conf_dir: str, name: str = "") -> str | None:
    if name:
        path = os.path.join(conf_dir, name)
        return path if os.path.isfile(path) else None
    for path in conf_files(conf_dir):
        if not os.path.basename(path).startswith(GENERATED_PREFIX):
            return path
    return None


def conf_files(conf_dir: str) -> list[str]:
    try:
        return [p for p in conffiles.conf_files(conf_dir) if not p.endswith(".json")]
    except CniError:
        return []


def capabilities_union(primary: dict) -> dict:
    union: dict = {}
    for plugin in [primary, *(primary.get("plugins") or [])]:
        caps = plugin.get("capabilities") if isinstance(plugin, dict) else None
        if isinstance(caps, dict):
            union.update({k: True for k, enabled in caps.items() if enabled is True})
    return union


def generate(primary_path: str, primary: dict, kind: str, options: dict, cni_version: str = "",
             name: str = NETWORK_NAME) -> tuple[str, dict]:
    """(file name, document) of the multus config for this primary; `kind` is "thin" or "thick"."""
    version = cni_version or primary.get("cniVersion")
    if not isinstance(version, str) or not version:
        raise CniError(INVALID_CONFIG, f"{primary_path} has no cniVersion; pass one explicitly")
    ver.require_supported(version)
    plugin: dict = {"type": "multus" if kind == "thin" else "multus-shim"}
    caps = capabilities_union(primary)
    if caps:
        plugin["capabilities"] = caps
    plugin.update({k: v for k, v in options.items() if k in PASS_THROUGH and v not in (None, "")})
    if kind == "thin":
        plugin["delegates"] = [primary]
    else:
        plugin["clusterNetwork"] = primary_path
    if ver.at_least(version, "1.0.0"):
        return f"{GENERATED_PREFIX}.conflist", {"cniVersion": version, "name": name, "plugins": [plugin]}
    return f"{GENERATED_PREFIX}.conf", {"cniVersion": version, "name": name, **plugin}


def write_generated(conf_dir: str, filename: str, doc: dict) -> str:
    """Atomically, 0600; the other generated variant (.conf vs .conflist) is removed."""
    makedirs_private(conf_dir)
    path = os.path.join(conf_dir, filename)
    write_atomic(path, (json.dumps(doc, indent=2) + "\n").encode())
    for other in (f"{GENERATED_PREFIX}.conf", f"{GENERATED_PREFIX}.conflist"):
        if other != filename:
            try:
                os.unlink(os.path.join(conf_dir, other))
            except FileNotFoundError:
                pass
    return path


def remove_generated(conf_dir: str) -> None:
    for other in (f"{GENERATED_PREFIX}.conf", f"{GENERATED_PREFIX}.conflist"):
        try:
            os.unlink(os.path.join(conf_dir, other))
        except FileNotFoundError:
            pass


def digest(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return ""


class ShimConfigKeeper:
    """The daemon's `multusConfigFile`: `auto` keeps a generated shim config current with the primary;
    a path is copied into `cniConfigDir` (again whenever it changes)."""

    def __init__(self, config: DaemonConfig, log: Logger, interval: float = 1.0) -> None:
        self.config = config
        self.log = log
        self.interval = interval
        self.stopping = threading.Event()
        self.seen = ""
        self.thread = threading.Thread(target=self._run, name="config", daemon=True)

    def start(self) -> None:
        self.refresh()
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        if self.config.cleanup_on_exit:
            remove_generated(self.config.cni_config_dir)

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.refresh()
            except (CniError, OSError) as exc:
                self.log.error(f"generated config: {exc}")

    def refresh(self) -> None:
        config = self.config
        if config.multus_config_file != "auto":
            source = config.multus_config_file
            current = digest(source)
            if current and current != self.seen:
                with open(source, "rb") as f:
                    data = f.read()
                write_atomic(os.path.join(config.cni_config_dir, os.path.basename(source)), data)
                self.seen = current
            return
        primary = primary_file(config.autoconfig_dir, config.master_cni)
        if primary is None:
            return
        current = digest(primary)
        if current == self.seen:
            return
        options = {k: v for k, v in config.raw.items() if k in PASS_THROUGH}
        options.setdefault("daemonSocketDir", config.socket_dir)
        conf = conffiles.load_file(primary)
        name = str(conf.get("name") or NETWORK_NAME) if config.raw.get("overrideNetworkName") is True else NETWORK_NAME
        filename, doc = generate(primary, conf, "thick", options, str(config.raw.get("forceCNIVersion") or ""), name)
        write_generated(config.cni_config_dir, filename, doc)
        self.seen = current
        self.log.verbose(f"generated {filename} from {primary}")
