"""The one module every exec runs: speak CNI when CNI_COMMAND is set, else the admin CLI.

Only the standard library is imported here; click is loaded by the CLI path alone.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    if os.environ.get("CNI_COMMAND"):
        from multus.cni.skel import read_stdin
        from multus.core.plugin import run

        stdin = b"" if os.environ["CNI_COMMAND"] == "VERSION" else read_stdin(sys.stdin.buffer)
        return run(dict(os.environ), stdin, sys.stdout.buffer)
    from multus.cli.main import cli

    return cli()
