"""Built-in delegates (sriov, flannel): ordinary CNI plugins that ship inside the multus file.

Each runs in its own process, like an external plugin: multus executes itself with
`--cni-helper NAME`, or the file is installed or linked under the helper's name.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from typing import BinaryIO

NAMES = ("sriov", "flannel")
HELPER_FLAG = "--cni-helper"


def helper_name(argv: list[str]) -> str | None:
    """The helper this process was started as, from argv[0]'s name or `--cni-helper NAME`."""
    if argv and os.path.basename(argv[0]) in NAMES:
        return os.path.basename(argv[0])
    if len(argv) >= 3 and argv[1] == HELPER_FLAG and argv[2] in NAMES:
        return argv[2]
    return None


def self_command(argv: list[str]) -> list[str]:
    """How to execute this very program again (to run a bundled helper as a plugin)."""
    if os.path.basename(argv[0]) == "__main__.py":
        return [sys.executable, "-m", "multus"]
    return [os.path.abspath(argv[0])]


def builtin_commands(self_command: list[str]) -> dict[str, list[str]]:
    return {name: [*self_command, HELPER_FLAG, name] for name in NAMES}


def run_helper(name: str, environ: dict[str, str], stdin: bytes, stdout: BinaryIO) -> int:
    from multus.cni import skel

    if name == "flannel":
        from multus.helpers.flannel import handlers
    else:
        from multus.helpers.sriov.plugin import handlers
    return skel.dispatch(handlers(), environ, stdin, stdout)
