"""The Multus CNI plugin: glue between the protocol layer (`cni.skel`) and the Multus logic.

ADD: readiness wait, pod lookup and resolution (core.session, before the container lock),
execution (core.attach), then network-status; a status write that fails undoes the ADD, so
a pod never runs with networks its status does not show.
"""

from __future__ import annotations

import sys

from multus.cni import skel
from multus.cni.errors import internal_error
from multus.core import netconf as netconf_mod
from multus.core.attach import Attacher, cni_config
from multus.core.log import Logger
from multus.core.session import Session
from multus.helpers import builtin_commands

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import BinaryIO, TextIO

    from multus.cni.env import CmdArgs
    from multus.cni.runtime import CNIConfig
    from multus.core.housekeeping import Cluster
    from multus.core.kube import Kube
    from multus.core.netconf import NetConf


class MultusPlugin:
    """Handlers for each CNI command; `log_level` lets the CLI's -v override the config.

    The daemon runs the same handlers with its own `kube` (watch-fed caches, a shared client
    pool) and its own `cni` (how plugins run on its node); a thin exec builds both per request.
    """

    __slots__ = ("stderr", "log_level", "log", "self_command", "account_dir", "kube", "cni")

    def __init__(self, stderr: TextIO | None = None, log_level: str | None = None,
                 self_command: list[str] | None = None, account_dir: str | None = None,
                 kube: Callable[[NetConf, Logger], Kube | None] | None = None,
                 cni: Callable[[NetConf, CmdArgs], CNIConfig] | None = None) -> None:
        self.stderr = stderr if stderr is not None else sys.stderr
        self.log_level = log_level
        self.self_command = self_command or [sys.executable, "-m", "multus"]
        self.account_dir = account_dir
        self.kube = kube
        self.cni = cni
        self.log = Logger(stderr=self.stderr)

    def _load(self, cmd: CmdArgs, raw: dict) -> netconf_mod.NetConf:
        conf = netconf_mod.load(raw)
        prefix = f"[{cmd.container_id[:12]}/{cmd.ifname}] " if cmd.container_id else ""
        self.log = Logger(self.log_level or conf.log_level, conf.log_file,
                          self.stderr if conf.log_to_stderr or self.log_level else None, prefix)
        return conf

    def _start(self, cmd: CmdArgs, raw: dict) -> tuple[Session, Attacher]:
        netconf = self._load(cmd, raw)
        kube = self.kube(netconf, self.log) if self.kube is not None else None
        session = Session(netconf, cmd, self.log, kube=kube, account_dir=self.account_dir)
        cni = self.cni(netconf, cmd) if self.cni is not None else \
            cni_config(netconf, cmd, builtin_commands(self.self_command))
        return session, Attacher(netconf, cmd, self.log, cni)

    def add(self, cmd: CmdArgs, raw: dict) -> dict:
        import time

        session, attacher = self._start(cmd, raw)
        try:
            started = time.perf_counter()
            wait_for_readiness(session.netconf)
            delegates = session.for_add()
            resolved = time.perf_counter()
            report_seconds = [0.0]

            def report() -> None:
                begun = time.perf_counter()
                try:
                    session.report(delegates)
                except BaseException:
                    self.log.error("network-status could not be written: undoing the ADD")
                    raise
                finally:
                    report_seconds[0] = time.perf_counter() - begun

            result = attacher.add(delegates, report if session.reports else None)
            if self.log.enabled("verbose"):
                done = time.perf_counter()
                attach = (done - resolved - report_seconds[0]) * 1000
                self.log.verbose(f"ADD took {(done - started) * 1000:.1f} ms: resolve {(resolved - started) * 1000:.1f}, "
                                 f"attach {attach:.1f} (delegates {attacher.delegate_seconds * 1000:.1f}), "
                                 f"report {report_seconds[0] * 1000:.1f} (beside the results update)")
            return result
        finally:
            session.close()

    def delete(self, cmd: CmdArgs, raw: dict) -> None:
        session, attacher = self._start(cmd, raw)
        try:
            attacher.delete(session.for_del_without_state)
        finally:
            session.close()

    def check(self, cmd: CmdArgs, raw: dict) -> None:
        self._start(cmd, raw)[1].check()

    def status(self, cmd: CmdArgs, raw: dict) -> None:
        from multus.core import housekeeping

        self._housekeep(cmd, raw, housekeeping.status)

    def gc(self, cmd: CmdArgs, raw: dict) -> None:
        from multus.core import housekeeping

        self._housekeep(cmd, raw, housekeeping.gc)

    def _housekeep(self, cmd: CmdArgs, raw: dict, act: Callable[[Attacher, Cluster], None]) -> None:
        """STATUS and GC: both wait for readiness, then act on this network's delegates only."""
        session, attacher = self._start(cmd, raw)
        try:
            wait_for_readiness(session.netconf)
            act(attacher, session.cluster_network)
        finally:
            session.close()

    def crashed(self, exc: BaseException) -> None:
        self.log.error(str(internal_error(exc)))
        import traceback

        self.log.debug("".join(traceback.format_exception(exc)).rstrip())

    def handlers(self) -> dict:
        return {"ADD": self.add, "DEL": self.delete, "CHECK": self.check, "STATUS": self.status, "GC": self.gc}


def wait_for_readiness(netconf: NetConf) -> None:
    if netconf.readiness_file:
        from multus.core import readiness

        readiness.wait_for(netconf.readiness_file, netconf.readiness_timeout)


def run(environ: dict[str, str], stdin: bytes, stdout: BinaryIO, stderr: TextIO | None = None,
        log_level: str | None = None, self_command: list[str] | None = None) -> int:
    plugin = MultusPlugin(stderr, log_level, self_command)
    return skel.dispatch(plugin.handlers(), environ, stdin, stdout, plugin.crashed)
