"""The one module every exec runs: speak CNI when CNI_COMMAND is set, else the admin CLI.

Only the standard library is imported here; click is loaded by the CLI path alone. Neither this
module nor the shim imports `os` (its import, with `_collections_abc`, is ~2 ms of a ~15 ms
interpreter start): `posix` is already loaded by the interpreter, and every other path imports
`os` through the code it runs anyway. For the same reason there is no `from __future__` here.
"""

import posix
import sys

SHIM_NAME = "multus-shim"
HELPER_FLAG = "--cni-helper"  # multus.helpers.HELPER_FLAG, repeated so the shim need not import helpers


def environ() -> dict[str, str]:
    """The process environment as os.environ decodes it (filesystem encoding, surrogateescape)."""
    encoding, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
    return {k.decode(encoding, errors): v.decode(encoding, errors) for k, v in posix.environ.items()}


def _lost_its_command() -> bool:
    """A runtime's call (runtimes pass no arguments, always some CNI_*) whose CNI_COMMAND is missing."""
    return len(sys.argv) == 1 and any(k.startswith(b"CNI_") for k in posix.environ)


def main() -> int:
    command = posix.environ.get(b"CNI_COMMAND")
    if command == b"VERSION" or not command and _lost_its_command():  # the latter: CNI's error, not usage text
        from multus.cni.skel import dispatch

        return dispatch({}, environ(), b"", sys.stdout.buffer)
    if command:
        if sys.argv[0].rpartition("/")[2] == SHIM_NAME and HELPER_FLAG not in sys.argv:
            from multus import shim  # first: a shim loads nothing else (the daemon validates the config)

            return shim.run(environ(), sys.stdin.buffer.read(), sys.stdout.buffer, sys.stderr, sys.argv)
        from multus.cni.skel import read_stdin
        from multus.helpers import helper_name, self_command

        stdin = read_stdin(sys.stdin.buffer)
        helper = helper_name(sys.argv)
        if helper:
            from multus.helpers import run_helper

            return run_helper(helper, environ(), stdin, sys.stdout.buffer)
        from multus.core.plugin import run

        return run(environ(), stdin, sys.stdout.buffer, self_command=self_command(sys.argv))
    from multus.cli.main import cli

    return cli()


def run() -> int:
    """The file's entry point: main(), then, for a CNI request, an immediate exit.

    A CNI request has written and flushed its one document when main() returns, and holds no
    resource that needs finalizing, so the interpreter's teardown (~3 ms of module cleanup) is
    skipped. The CLI and the daemon (click commands) exit the ordinary way.
    """
    code = main()
    if posix.environ.get(b"CNI_COMMAND") or _lost_its_command():
        sys.stdout.flush()
        sys.stderr.flush()
        posix._exit(code)
    return code
