"""Crash-safe files shared by Multus and its helpers: atomic replace and per-name locks."""

from __future__ import annotations

import contextlib
import os

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from collections.abc import Iterator


def makedirs_private(path: str) -> None:
    """Like os.makedirs, but every directory it creates is 0700 (state may name pods and addresses)."""
    missing = []
    while path and not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, 0o700)


def write_atomic(path: str, payload: bytes, sync_dir: bool = True) -> None:
    """Temp file, fsync, rename, fsync the directory: a reader sees the old or the new file, whole.

    `sync_dir=False` skips the directory fsync, for a replacement whose loss in a power cut is
    harmless because the file it replaces is already durable.
    """
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    if not sync_dir:
        return
    dfd = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


@contextlib.contextmanager
def locked(path: str) -> Iterator[int]:
    """An exclusive flock on `path` (created 0600, directory 0700), released on exit."""
    import fcntl

    makedirs_private(os.path.dirname(path))
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)
