"""Network namespace checks and work inside a pod's namespace, without pyroute2.

Work inside a namespace runs in a fresh OS thread that enters it with setns(2) (through
_ctypes: Python 3.11 has no os.setns) and then simply ends: the calling thread never leaves its own
namespace, so no failure can leave it (or a daemon serving other pods) in the pod's network.
"""

from __future__ import annotations

import os

from multus.cni.errors import INVALID_NETNS, CniError

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NS_GET_NSTYPE = 0xB703


def require(path: str) -> None:
    """ADD and CHECK need an existing network namespace (a bind-mounted nsfs file or /proc/<pid>/ns/net)."""
    import fcntl

    if not path:
        raise CniError(INVALID_NETNS, "CNI_NETNS is empty")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise CniError(INVALID_NETNS, f"network namespace {path!r}: {exc.strerror}") from None
    try:
        kind = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError:
        kind = 0
    finally:
        os.close(fd)
    if kind != CLONE_NEWNET:
        raise CniError(INVALID_NETNS, f"{path!r} is not a network namespace")


_SETNS: list = []  # built once per process (a daemon enters namespaces for every request), then constant


def _setns():  # noqa: ANN202 - returns a ctypes function object
    """libc's setns(2) through the C layer of ctypes: `ctypes` itself costs ~4 ms more to import."""
    if not _SETNS:
        _SETNS.append(_build_setns())
    return _SETNS[0]


def _build_setns():  # noqa: ANN202
    import _ctypes

    class c_int(_ctypes._SimpleCData):  # noqa: N801 - ctypes' own name for it
        _type_ = "i"

    class Function(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
        _restype_ = c_int
        _argtypes_ = (c_int, c_int)

    return Function(_ctypes.dlsym(_ctypes.dlopen(None), "setns")), _ctypes.get_errno


def run_inside(path: str, work: Callable[[], T]) -> T:
    """`work()` in the network namespace at `path`, on a thread of its own that ends there."""
    import _thread

    setns, get_errno = _setns()
    target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    done = _thread.allocate_lock()
    done.acquire()
    outcome: list = []

    def thread() -> None:
        try:
            if setns(target, CLONE_NEWNET) != 0:
                raise CniError(INVALID_NETNS, f"cannot enter {path!r}: {os.strerror(get_errno())}")
            outcome.append((True, work()))
        except BaseException as exc:  # handed to the caller, who raises it
            outcome.append((False, exc))
        finally:
            done.release()

    try:
        _thread.start_new_thread(thread, ())
        done.acquire()
    finally:
        os.close(target)
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _read_link_names() -> set[str]:
    # /proc/thread-self/net follows the thread's current namespace; no socket module needed.
    with open("/proc/thread-self/net/dev") as f:
        return {line.split(":", 1)[0].strip() for line in f.read().splitlines()[2:] if ":" in line}


def link_names(path: str) -> set[str]:
    return run_inside(path, _read_link_names)
