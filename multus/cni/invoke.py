"""Finding and executing CNI plugins, and decoding what they answer.

subprocess is imported inside `exec_plugin`: VERSION and validation never pay for it.
"""

from __future__ import annotations

import json
import os

from multus.cni.errors import INTERNAL, INVALID_CONFIG, TRY_AGAIN_LATER, CniError

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from collections.abc import Callable

    Tracer = Callable[[str, str, bytes, int, bytes, bytes], None]

_ETXTBSY = 26
_EXEC_TRIES = 5


def check_plugin_name(plugin: object) -> str:
    if not isinstance(plugin, str) or not plugin or "/" in plugin or "\0" in plugin or plugin in (".", ".."):
        raise CniError(INVALID_CONFIG, f"plugin type {str(plugin)[:80]!r} must be a plain executable name")
    return plugin


def find_in_path(plugin: str, paths: list[str]) -> str:
    check_plugin_name(plugin)
    for directory in paths:
        full = os.path.join(directory, plugin)
        if os.path.isfile(full) and os.access(full, os.X_OK):
            return full
    raise CniError(INVALID_CONFIG, f'failed to find plugin "{plugin}" in path {paths}')


def _spawn(argv: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    import subprocess
    import time

    for attempt in range(_EXEC_TRIES):
        try:
            return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env, start_new_session=True)
        except OSError as exc:
            # A binary being replaced ("text file busy") is a transient state during upgrades.
            if exc.errno == _ETXTBSY and attempt < _EXEC_TRIES - 1:
                time.sleep(0.05 * (attempt + 1))
                continue
            raise CniError(INTERNAL, f"failed to execute plugin {argv[0]}: {exc.strerror}") from None
    raise AssertionError("unreachable")


def _kill_group(pid: int) -> None:
    import signal

    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def exec_plugin(argv: list[str], stdin: bytes, env: dict[str, str], timeout: float | None = None,
                trace: Tracer | None = None, name: str = "") -> bytes:
    """Run one plugin; return its stdout, or raise the CniError it reported."""
    import subprocess

    name = name or os.path.basename(argv[0])
    proc = _spawn(argv, env)
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        # The plugin runs in its own session, so its helpers (e.g. IPAM) die with it.
        _kill_group(proc.pid)
        out, err = proc.communicate()
        if trace:
            trace(name, env.get("CNI_COMMAND", ""), stdin, -9, out, err)
        raise CniError(TRY_AGAIN_LATER, f"plugin {name} did not answer within {timeout:g}s and was killed") from None
    if trace:
        trace(name, env.get("CNI_COMMAND", ""), stdin, proc.returncode, out, err)
    if proc.returncode != 0:
        raise decode_error(name, proc.returncode, out, err)
    return out


def decode_error(name: str, returncode: int, out: bytes, err: bytes) -> CniError:
    text = out.strip()
    if text:
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("code"), int) and "msg" in body:
            return CniError(body["code"], str(body.get("msg")), str(body.get("details", "") or ""))
        return CniError(INTERNAL, f"plugin {name} failed (exit {returncode}) with a non-CNI answer: "
                                  f"{text[:200].decode(errors='replace')}")
    detail = err.strip()[-500:].decode(errors="replace")
    return CniError(INTERNAL, f"plugin {name} failed (exit {returncode})" + (f": {detail}" if detail else
                                                                          " and printed nothing"))


def decode_result(name: str, out: bytes) -> dict:
    """A successful ADD must print one JSON object that is a result, not an error."""
    if not out.strip():
        raise CniError(INTERNAL, f"plugin {name} succeeded but printed no result")
    try:
        body = json.loads(out)
    except ValueError:
        raise CniError(INTERNAL, f"plugin {name} printed a result that is not JSON: "
                                 f"{out.strip()[:200].decode(errors='replace')}") from None
    if not isinstance(body, dict):
        raise CniError(INTERNAL, f"plugin {name} printed a result that is not a JSON object")
    if isinstance(body.get("code"), int) and "msg" in body:
        raise CniError(body["code"], str(body["msg"]), str(body.get("details", "") or ""))
    return body
