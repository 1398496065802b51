"""Plugin entry and dispatch: the only place that writes to stdout.

Reads the request, gates it on the config's version, calls the handler, and turns every
failure into exactly one CNI error document with a spec code.
"""

from __future__ import annotations

from multus.cni import version as ver
from multus.cni.env import CmdArgs
from multus.cni.errors import DECODE, INVALID_CONFIG, CniError, internal_error

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import BinaryIO

    Handler = Callable[[CmdArgs, dict], "dict | None"]

MAX_CONFIG_BYTES = 4 << 20
MAX_CONFIG_DEPTH = 64


def _depth_ok(value: object, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def read_stdin(stream: BinaryIO) -> bytes:
    """Read at most one byte past the limit, so a huge config is refused without buffering it."""
    return stream.read(MAX_CONFIG_BYTES + 1)


def decode_config(stdin: bytes) -> dict:
    from multus import jsonlite

    if len(stdin) > MAX_CONFIG_BYTES:
        raise CniError(INVALID_CONFIG, f"network config is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        conf = jsonlite.loads(stdin)
    except RecursionError:
        raise CniError(DECODE, "error decoding network config: nested too deeply") from None
    except ValueError as exc:
        raise CniError(DECODE, f"error decoding network config: {exc}") from None
    if not isinstance(conf, dict):
        raise CniError(DECODE, "error decoding network config: expected a JSON object")
    if not _depth_ok(conf, MAX_CONFIG_DEPTH):
        raise CniError(INVALID_CONFIG, f"network config is nested deeper than {MAX_CONFIG_DEPTH} levels")
    return conf


def write(stdout: BinaryIO, document: dict) -> None:
    from multus import jsonlite

    stdout.write(jsonlite.dumps_indented(document).encode() + b"\n")
    stdout.flush()


def dispatch(handlers: dict[str, Handler], environ: dict[str, str], stdin: bytes, stdout: BinaryIO,
             on_crash: Callable[[BaseException], None] | None = None) -> int:
    """Serve one CNI request; return the process exit code."""
    cni_version = ver.CURRENT
    try:
        if environ.get("CNI_COMMAND") == "VERSION":
            stdout.write(ver.info_text())
            stdout.flush()
            return 0
        cmd = CmdArgs.from_environ(environ, stdin)
        conf = decode_config(stdin)
        requested = ver.of_config(conf)
        ver.require_supported(requested)
        cni_version = requested
        ver.require_command(cmd.command, requested)
        result = handlers[cmd.command](cmd, conf)
        if result is not None:
            write(stdout, result)
        return 0
    except CniError as exc:
        write(stdout, exc.to_dict(cni_version))
        return 1
    except Exception as exc:  # the one broad catch: anything unforeseen is still a CNI error
        if on_crash:
            on_crash(exc)
        write(stdout, internal_error(exc).to_dict(cni_version))
        return 1
