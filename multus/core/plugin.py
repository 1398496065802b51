"""The Multus CNI plugin: glue between the protocol layer (`cni.skel`) and the Multus logic."""

from __future__ import annotations

import sys

from multus.cni import skel
from multus.core import netconf as netconf_mod
from multus.core.attach import Attacher
from multus.core.log import Logger
from multus.helpers import builtin_commands

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from typing import BinaryIO, TextIO

    from multus.cni.env import CmdArgs


class MultusPlugin:
    """Handlers for each CNI command; `log_level` lets the CLI's -v override the config."""

    __slots__ = ("stderr", "log_level", "log", "self_command")

    def __init__(self, stderr: TextIO | None = None, log_level: str | None = None,
                 self_command: list[str] | None = None) -> None:
        self.stderr = stderr if stderr is not None else sys.stderr
        self.log_level = log_level
        self.self_command = self_command or [sys.executable, "-m", "multus"]
        self.log = Logger(stderr=self.stderr)

    def _load(self, cmd: CmdArgs, raw: dict) -> netconf_mod.NetConf:
        conf = netconf_mod.load(raw)
        prefix = f"[{cmd.container_id[:12]}/{cmd.ifname}] " if cmd.container_id else ""
        self.log = Logger(self.log_level or conf.log_level, conf.log_file,
                          self.stderr if conf.log_to_stderr or self.log_level else None, prefix)
        return conf

    def _attacher(self, cmd: CmdArgs, raw: dict) -> Attacher:
        return Attacher(self._load(cmd, raw), cmd, self.log, builtin_commands(self.self_command))

    def add(self, cmd: CmdArgs, raw: dict) -> dict:
        return self._attacher(cmd, raw).add()

    def delete(self, cmd: CmdArgs, raw: dict) -> None:
        self._attacher(cmd, raw).delete()

    def check(self, cmd: CmdArgs, raw: dict) -> None:
        self._attacher(cmd, raw).check()

    def status(self, cmd: CmdArgs, raw: dict) -> None:
        from multus.core import housekeeping

        housekeeping.status(self._attacher(cmd, raw))

    def gc(self, cmd: CmdArgs, raw: dict) -> None:
        from multus.core import housekeeping

        housekeeping.gc(self._attacher(cmd, raw))

    def crashed(self, exc: BaseException) -> None:
        self.log.error(f"internal error: {type(exc).__name__}: {exc}")
        import traceback

        self.log.debug("".join(traceback.format_exception(exc)).rstrip())

    def handlers(self) -> dict:
        return {"ADD": self.add, "DEL": self.delete, "CHECK": self.check, "STATUS": self.status, "GC": self.gc}


def run(environ: dict[str, str], stdin: bytes, stdout: BinaryIO, stderr: TextIO | None = None,
        log_level: str | None = None, self_command: list[str] | None = None) -> int:
    plugin = MultusPlugin(stderr, log_level, self_command)
    return skel.dispatch(plugin.handlers(), environ, stdin, stdout, plugin.crashed)
