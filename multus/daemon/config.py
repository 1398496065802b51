"""The daemon config file: upstream's format and keys (multus-behaviour.md §20).

Daemon-only keys configure the process; every other key is a multus config key and is laid
over each request's config, the daemon's value winning, as upstream does.
"""

from __future__ import annotations

import os

from multus import jsonlite
from multus.cni.errors import INVALID_CONFIG, CniError

DEFAULT_PATH = "/etc/cni/net.d/multus.d/daemon-config.json"
DEFAULT_SOCKET_DIR = "/run/multus"
SOCKET_NAME = "multus.sock"
DAEMON_ONLY = ("socketDir", "cniConfigDir", "multusConfigFile", "multusAutoconfigDir", "multusMasterCNI",
               "chrootDir", "metricsPort", "metricsAddress", "connectionLimit", "shutdownTimeout",
               "cleanupConfigOnExit", "enablePprof", "forceCNIVersion", "overrideNetworkName")
# Keys of a request's config that the overlay must not replace: they say what the request is.
REQUEST_KEYS = ("cniVersion", "name", "type", "prevResult", "runtimeConfig", "cni.dev/valid-attachments",
                "cni.dev/attachments")


def _fail(path: str, msg: str) -> CniError:
    return CniError(INVALID_CONFIG, f"daemon config {path}: {msg}")


class DaemonConfig:
    __slots__ = ("path", "raw", "socket_dir", "cni_config_dir", "multus_config_file", "autoconfig_dir",
                 "master_cni", "chroot_dir", "log_file", "log_level", "log_to_stderr", "metrics_port",
                 "metrics_address", "connection_limit", "shutdown_timeout", "cleanup_on_exit")

    def __init__(self, raw: dict, path: str = "") -> None:
        self.path = path
        self.raw = raw

        def text(key: str, default: str) -> str:
            value = raw.get(key, default)
            if not isinstance(value, str):
                raise _fail(path, f"{key!r} must be a string")
            return value

        def number(key: str, default: float, low: float, high: float) -> float:
            value = raw.get(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise _fail(path, f"{key!r} must be a number from {low:g} to {high:g}")
            return float(value)

        self.socket_dir = text("socketDir", DEFAULT_SOCKET_DIR) or DEFAULT_SOCKET_DIR
        self.cni_config_dir = text("cniConfigDir", "")
        self.multus_config_file = text("multusConfigFile", "")
        self.autoconfig_dir = text("multusAutoconfigDir", self.cni_config_dir)
        self.master_cni = text("multusMasterCNI", "")
        self.chroot_dir = text("chrootDir", "")
        self.log_file = text("logFile", "")
        self.log_level = text("logLevel", "error").lower()
        to_stderr = raw.get("logToStderr", True)
        if not isinstance(to_stderr, bool):
            raise _fail(path, "'logToStderr' must be true or false")
        self.log_to_stderr = to_stderr
        self.metrics_port = int(number("metricsPort", 0, 0, 65535))
        self.metrics_address = text("metricsAddress", "127.0.0.1")
        self.connection_limit = int(number("connectionLimit", 0, 0, 100000))
        self.shutdown_timeout = number("shutdownTimeout", 10, 0, 600)
        self.cleanup_on_exit = bool(raw.get("cleanupConfigOnExit", False))

    @property
    def socket_path(self) -> str:
        return os.path.join(self.socket_dir, SOCKET_NAME)

    def overlay(self, request: dict) -> dict:
        """The request's multus config with every daemon-level multus key laid over it."""
        merged = dict(request)
        for key, value in self.raw.items():
            if key not in DAEMON_ONLY and key not in REQUEST_KEYS:
                merged[key] = value
        return merged


def load(path: str) -> DaemonConfig:
    try:
        with open(path, "rb") as f:
            raw = jsonlite.loads_object(f.read())
    except OSError as exc:
        raise _fail(path, f"cannot be read: {exc.strerror}") from None
    except ValueError as exc:
        raise _fail(path, str(exc)) from None
    return DaemonConfig(raw, path)
