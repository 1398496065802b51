"""`multus daemon`: start, serve, and on SIGTERM drain and stop.

Start-up: the config file, credentials (the config's `kubeconfig`, else the pod's service
account), the caches (the node's pods by `spec.nodeName=$MULTUS_NODE_NAME`, and all NADs), the
shim's config in `cniConfigDir` (`multusConfigFile`: `auto` generates and keeps it current,
a path is copied), then the socket. SIGTERM: /readyz fails at once (shims fall back to running
requests themselves), in-flight requests finish (at most `shutdownTimeout`), and the process exits.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from multus.core.log import Logger
from multus.daemon import config as daemon_config
from multus.daemon.server import serve_metrics, serve_socket
from multus.daemon.service import Daemon, node_name


def run(config_path: str, environ: dict[str, str], self_command: list[str],
        account_dir: str | None = None) -> int:
    from multus.k8s import kubeconfig

    if os.path.exists(config_path):
        config = daemon_config.load(config_path)
    else:
        config = daemon_config.DaemonConfig({}, config_path)
    log = Logger(config.log_level, config.log_file, sys.stderr if config.log_to_stderr else None, "[daemon] ")
    kube_path = config.raw.get("kubeconfig") or ""
    creds = kubeconfig.load(kube_path) if kube_path else kubeconfig.in_cluster(
        environ, account_dir or kubeconfig.SERVICE_ACCOUNT_DIR)
    daemon = Daemon(config, creds, node_name(environ), log, self_command)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    daemon.start_caches()
    watcher = None
    if config.multus_config_file and config.cni_config_dir:
        from multus.daemon.confkeeper import ShimConfigKeeper

        watcher = ShimConfigKeeper(config, log)
        watcher.start()
    server = serve_socket(daemon, config.socket_path)
    metrics = serve_metrics(daemon, config.metrics_address, config.metrics_port) if config.metrics_port else None
    log.error(f"serving on {config.socket_path} for node {daemon.node!r}"
              f"{'' if creds else ' without API access'}")
    while not stop.wait(0.5):
        pass
    log.error("stopping: /readyz fails, new requests get 503 (the shim runs them itself), draining in-flight ones")
    daemon.stopping.set()
    drained = daemon.drain(config.shutdown_timeout)
    if not drained:
        log.error(f"{daemon.inflight} request(s) still running after {config.shutdown_timeout:g}s; exiting anyway")
    server.unlink_own_socket()  # from here a shim cannot connect, so it falls back at once
    server.stop()
    if metrics is not None:
        metrics.shutdown()
        metrics.server_close()
    if watcher is not None:
        watcher.stop()
    daemon.stop_caches()
    return 0 if drained else 1
