"""The daemon's `multusConfigFile`: the shim config the runtime reads, kept current while the daemon runs."""

from __future__ import annotations

import os
import threading

from multus.cni.errors import CniError
from multus.fileutil import write_atomic
from multus.node.confgen import (
    PASS_THROUGH,
    digest,
    primary_file,
    regenerate,
    remove_generated,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from multus.core.log import Logger
    from multus.daemon.config import DaemonConfig


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
        options = {k: v for k, v in config.raw.items() if k in PASS_THROUGH}
        options.setdefault("daemonSocketDir", config.socket_dir)
        self.seen, written = regenerate(primary, self.seen, config.cni_config_dir, "thick", options,
                                        str(config.raw.get("forceCNIVersion") or ""),
                                        own_name=config.raw.get("overrideNetworkName") is True)
        if written is not None:
            self.log.verbose(f"generated {written} from {primary}")
