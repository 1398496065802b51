"""Finding and executing CNI plugins, and decoding what they answer."""

from __future__ import annotations

import os

from multus import jsonlite
from multus.cni.errors import INTERNAL, INVALID_CONFIG, TRY_AGAIN_LATER, CniError

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from typing import Protocol

    from multus.cni.env import CmdArgs

    class ExecObserver(Protocol):
        """Told about every plugin process: its pid when spawned, and what it answered."""

        def spawned(self, pid: int) -> None: ...

        def exited(self, name: str, command: str, stdin: bytes, returncode: int, out: bytes, err: bytes) -> None: ...

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


def _spawn(argv: list[str], env: dict[str, str], stdin_fd: int, stdout_fd: int, stderr_fd: int,
           own_group: bool) -> int:
    import _signal  # not `signal`: its enums cost ~6 ms to import
    import time

    actions = [(os.POSIX_SPAWN_DUP2, stdin_fd, 0), (os.POSIX_SPAWN_DUP2, stdout_fd, 1),
               (os.POSIX_SPAWN_DUP2, stderr_fd, 2)]
    defaults = (_signal.SIGPIPE, _signal.SIGXFSZ)  # back to default, as a runtime's plugin has them
    for attempt in range(_EXEC_TRIES):
        try:
            # Own process group: a timeout kills the plugin and everything it started (e.g. its IPAM).
            # A group, not a session: with autogroup scheduling (most distributions' kernels) each
            # new session also gets a scheduler group of its own, 0.2-0.3 ms of every plugin run on
            # the reference VM.
            if own_group:  # (posix_spawn takes no None for "leave the group as it is")
                return os.posix_spawn(argv[0], argv, env, file_actions=actions, setpgroup=0, setsigdef=defaults)
            return os.posix_spawn(argv[0], argv, env, file_actions=actions, setsigdef=defaults)
        except OSError as exc:
            # A binary being replaced ("text file busy") is a transient state during upgrades.
            if exc.errno == _ETXTBSY and attempt < _EXEC_TRIES - 1:
                time.sleep(0.05 * (attempt + 1))
                continue
            raise CniError(INTERNAL, f"failed to execute plugin {argv[0]}: {exc.strerror}") from None
    raise AssertionError("unreachable")


def _kill(pid: int, group: bool) -> None:
    """SIGKILL the plugin, and with `group` everything in the process group it leads."""
    import _signal

    try:
        if group:
            os.killpg(pid, _signal.SIGKILL)
        else:
            os.kill(pid, _signal.SIGKILL)
    except OSError:
        pass


def _communicate(stdin: bytes, to_child: int, from_out: int, from_err: int,
                 deadline: float | None) -> tuple[bytes, bytes, bool]:
    """Feed stdin and drain stdout/stderr without threads; False when the deadline passed first.

    Owns the three descriptors: each is closed exactly once, whatever happens.
    """
    import select
    import time

    chunks: dict[int, list[bytes]] = {from_out: [], from_err: []}
    open_fds = {from_out, from_err, to_child}

    def close(fd: int) -> None:
        open_fds.discard(fd)
        os.close(fd)

    try:
        poller = select.poll()
        for fd in chunks:
            poller.register(fd, select.POLLIN)
        if stdin:
            poller.register(to_child, select.POLLOUT)
        else:
            close(to_child)
        offset = 0
        while open_fds:
            wait = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            events = poller.poll(wait)
            if not events and deadline is not None and time.monotonic() >= deadline:
                return b"".join(chunks[from_out]), b"".join(chunks[from_err]), False
            for fd, _ in events:
                if fd == to_child:
                    try:
                        offset += os.write(fd, stdin[offset:offset + 4096])
                    except BrokenPipeError:
                        offset = len(stdin)  # the plugin did not read its config; its answer will say why
                    if offset >= len(stdin):
                        poller.unregister(fd)
                        close(fd)
                    continue
                data = os.read(fd, 65536)
                if data:
                    chunks[fd].append(data)
                else:
                    poller.unregister(fd)
                    close(fd)
        return b"".join(chunks[from_out]), b"".join(chunks[from_err]), True
    finally:
        for fd in list(open_fds):
            close(fd)


def _reap(pid: int, deadline: float | None) -> int | None:
    """The exit code, or None if the plugin is still running at the deadline.

    Waits on a pidfd (readable when the process exits) rather than polling with sleeps.
    """
    import select
    import time

    if deadline is None:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        pidfd = -1
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if pidfd >= 0:
                poller = select.poll()
                poller.register(pidfd, select.POLLIN)
                poller.poll(max(1, int(left * 1000)))
            else:
                time.sleep(min(0.001, left))
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def exec_plugin(argv: list[str], stdin: bytes, env: dict[str, str], timeout: float | None = None,
                observer: ExecObserver | None = None, name: str = "", own_group: bool = True) -> bytes:
    """Run one plugin; return its stdout, or raise the CniError it reported.

    posix_spawn and poll rather than subprocess: this runs once per delegate per request, and
    subprocess's imports alone cost more than a reference plugin's whole run. `own_group`
    (top-level delegates) lets a timeout kill the plugin's whole process group; a plugin that a helper
    starts stays in the helper's group, so the helper's own timeout reaches it too.
    """
    import time

    name = name or os.path.basename(argv[0])
    in_r, in_w = os.pipe2(os.O_CLOEXEC)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = _spawn(argv, env, in_r, out_w, err_w, own_group)
    except BaseException:
        for fd in (in_w, out_r, err_r):
            os.close(fd)
        raise
    finally:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    try:
        try:
            if observer:
                observer.spawned(pid)
        except BaseException:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            raise
        deadline = None if timeout is None else time.monotonic() + timeout
        out, err, finished = _communicate(stdin, in_w, out_r, err_r, deadline)
    except BaseException:
        # Whatever failed (the observer's disk write, a read), the child must not outlive the call.
        _kill(pid, own_group)
        os.waitpid(pid, 0)
        raise
    returncode = _reap(pid, deadline) if finished else None
    if returncode is None:
        _kill(pid, own_group)
        os.waitpid(pid, 0)
        if observer:
            observer.exited(name, env.get("CNI_COMMAND", ""), stdin, -9, out, err)
        raise CniError(TRY_AGAIN_LATER, f"plugin {name} did not answer within {timeout:g}s and was killed")
    if observer:
        observer.exited(name, env.get("CNI_COMMAND", ""), stdin, returncode, out, err)
    if returncode != 0:
        raise decode_error(name, returncode, out, err)
    return out


def delegate(plugin: str, conf: dict, cmd: CmdArgs, command: str) -> bytes:
    """Run `plugin` the way a plugin delegates to another (flannel to bridge, sriov to its IPAM):
    with the caller's own CNI environment and path, only CNI_COMMAND set."""
    env = dict(cmd.environ, CNI_COMMAND=command)
    return exec_plugin([find_in_path(plugin, cmd.path)], jsonlite.dumps(conf).encode(), env, name=plugin,
                       own_group=False)


def decode_error(name: str, returncode: int, out: bytes, err: bytes) -> CniError:
    text = out.strip()
    if text:
        try:
            body = jsonlite.loads(text)
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
        body = jsonlite.loads(out)
    except ValueError:
        raise CniError(INTERNAL, f"plugin {name} printed a result that is not JSON: "
                                 f"{out.strip()[:200].decode(errors='replace')}") from None
    if not isinstance(body, dict):
        raise CniError(INTERNAL, f"plugin {name} printed a result that is not a JSON object")
    if isinstance(body.get("code"), int) and "msg" in body:
        raise CniError(body["code"], str(body["msg"]), str(body.get("details", "") or ""))
    return body
