"""Network namespace checks without pyroute2: is this path a netns, and which links are in it.

Link names are read by entering the namespace with setns(2) (ctypes: Python 3.11 has no
os.setns) and coming straight back. The process is single-threaded here; if it cannot come
back it exits at once rather than go on in the pod's namespace.
"""

from __future__ import annotations

import os

from multus.cni.errors import INVALID_NETNS, CniError

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


def link_names(path: str) -> set[str]:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise CniError(INVALID_NETNS, f"cannot enter {path!r}: {os.strerror(err)}")
        try:
            # /proc/thread-self/net follows the thread's current namespace; no socket module needed.
            with open("/proc/thread-self/net/dev") as f:
                return {line.split(":", 1)[0].strip() for line in f.read().splitlines()[2:] if ":" in line}
        finally:
            if libc.setns(home, CLONE_NEWNET) != 0:
                os.write(2, b"multus: cannot return to the host network namespace; exiting\n")
                os._exit(70)
    finally:
        os.close(target)
        os.close(home)
