"""Crash-safe files shared by Multus and its helpers: atomic replace, temp-file sweeping, locks.

No contextlib here (~7 ms to import on every exec): plain try/except and a small lock class.
"""

from __future__ import annotations

import os

TEMP_MARKER = ".tmp"


def makedirs_private(path: str) -> None:
    """Like os.makedirs, but every directory it creates is 0700 (state may name pods and addresses)."""
    missing = []
    while path and not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass


def temp_name(path: str) -> str:
    """Unique per process and per thread: the daemon writes from many threads at once."""
    import _thread

    return f"{path}{TEMP_MARKER}{os.getpid()}.{_thread.get_ident()}"


def write_all(fd: int, payload: bytes) -> None:
    """os.write may write less than asked (a signal, a nearly full disk): loop until all is out."""
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]


def write_atomic(path: str, payload: bytes, durable: bool = True) -> None:
    """Temp file, fsync, rename, fsync the directory: a reader sees the old or the new file, whole,
    also after a power cut.

    `durable=False` skips both fsyncs, for a replacement whose loss in a power cut is harmless
    because the file it replaces is already durable: readers still see old or new, whole, while
    the machine runs. On any failure the temp file is removed, so a full disk leaves nothing behind.
    """
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        try:
            write_all(fd, payload)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise
    if durable:
        _fsync_directory_of(path)


def write_new(path: str, payload: bytes) -> None:
    """Create `path`, which must not exist, durable when this returns: written in place, fsync,
    fsync the directory.

    With no previous version there is nothing for a temp file and a rename to protect, and
    without the rename the file's fsync also commits its directory entry (ext4's journal), which
    leaves the directory's fsync (kept: POSIX asks for it) little to do: ~0.3 ms less than
    write_atomic per call on the reference VM. A crash before the fsync can leave the file empty
    or cut short, which its readers must take like a missing one. On failure it is removed.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            write_all(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        _remove_quietly(path)
        raise
    _fsync_directory_of(path)


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_directory_of(path: str) -> None:
    """Make the directory entry of `path` (its creation or rename) survive a power cut."""
    dfd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def sweep_temp_files(directory: str, prefixes: tuple[str, ...] = (), older_than: float | None = None) -> list[str]:
    """Remove temp files a killed writer left in `directory` (only those of files named by one of
    `prefixes` when given, only those older than `older_than` seconds when given: a live writer's
    file is young)."""
    import time

    try:
        names = os.listdir(directory)
    except OSError:
        return []
    removed = []
    now = time.time()
    temp_prefixes = tuple(p + TEMP_MARKER for p in prefixes)
    for name in names:
        is_temp = name.startswith(temp_prefixes) if prefixes else TEMP_MARKER in name
        if not is_temp:
            continue
        path = os.path.join(directory, name)
        try:
            if older_than is not None and now - os.lstat(path).st_mtime < older_than:
                continue
            os.unlink(path)
        except OSError:
            continue
        removed.append(path)
    return removed


class locked:  # noqa: N801 - used like a function: `with locked(path):`
    """An exclusive flock on `path` (created 0600, directory 0700), released on exit."""

    __slots__ = ("path", "fd")

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> int:
        import fcntl

        makedirs_private(os.path.dirname(self.path))
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self.fd)
            raise
        return self.fd

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)
