"""Attachment state under `cniDir`, so DEL and CHECK never depend on the config still matching.

Layout: `<cniDir>/attachments/<containerID>/<ifname>.json`, one file per multus attachment
(the runtime's CNI_IFNAME), written once and durable before the first delegate runs;
`<ifname>.result` beside it, each delegate's result, written once they all succeeded; and
`<cniDir>/locks/<containerID>` serializing work on one container, which also lists the delegate
processes the request holding it has started. Upstream keys by container ID alone, so a second
multus network in the same container overwrote the first one's state; per-attachment files keep
them apart. Directories are 0700, files 0600.
"""

from __future__ import annotations

import os

from multus import jsonlite
from multus.cni.errors import IO_FAILURE, CniError
from multus.core.delegate import Delegate
from multus.fileutil import makedirs_private, sweep_temp_files, write_atomic, write_new

KIND = "multusAttachmentV1"


class CorruptState(Exception):
    """A state file exists but cannot be used; DEL falls back to the current config."""


class CacheEntry:
    """Everything needed to undo one attachment: who, where, which multus network, each delegate
    with its result. `network` (the multus config's name) keeps GC of one network away from
    another network's attachments in a shared cniDir."""

    __slots__ = ("container_id", "ifname", "netns", "cni_args", "network", "delegates", "attachment_id")

    def __init__(self, container_id: str, ifname: str, netns: str, cni_args: str, network: str,
                 delegates: list[Delegate], attachment_id: str = "") -> None:
        self.container_id = container_id
        self.ifname = ifname
        self.netns = netns
        self.cni_args = cni_args
        self.network = network
        self.delegates = delegates
        self.attachment_id = attachment_id  # set by the first save; the results file repeats it

    def to_json(self) -> dict:
        out = {"kind": KIND, "containerId": self.container_id, "ifName": self.ifname, "netns": self.netns,
               "cniArgs": self.cni_args, "network": self.network,
               "delegates": [d.to_json() for d in self.delegates]}
        if self.attachment_id:
            out["attachmentId"] = self.attachment_id
        return out

    @classmethod
    def from_json(cls, data: object) -> CacheEntry:
        try:
            assert isinstance(data, dict) and data.get("kind") == KIND
            delegates = [Delegate.from_json(d) for d in data["delegates"]]
            return cls(str(data["containerId"]), str(data["ifName"]), str(data.get("netns", "")),
                       str(data.get("cniArgs", "")), str(data.get("network", "")), delegates,
                       str(data.get("attachmentId", "")))
        except (AssertionError, KeyError, TypeError, ValueError) as exc:
            raise CorruptState(f"unexpected state layout: {exc!r}") from None


# A delegate's pid is recorded just after its fork, and no other process can have that pid until the
# recording request has reaped it: a listed process is that delegate only if it started before the
# recording (one tick either way: both clocks round down) and not much before. RECORD_LAG_TICKS is
# how late the recording may come: its thread can wait for a CPU (a daemon pod's CPU limit throttles
# it in 100 ms periods). A process that started after the recording has a reused pid.
RECORD_LAG_TICKS = 100


def boot_ticks() -> str:
    """Now, in clock ticks since boot: the unit of a process's start time in /proc/<pid>/stat."""
    import time

    return str(int(time.clock_gettime(time.CLOCK_BOOTTIME) * os.sysconf("SC_CLK_TCK")))


def _before_this_boot(mtime: float) -> bool:
    """Whether a list was last written before the machine booted: ticks since boot start again at
    every boot, so its start times could match processes of this boot that merely reuse the pids."""
    import time

    return mtime < time.time() - time.clock_gettime(time.CLOCK_BOOTTIME) - 1


def _list_in(fd: int) -> bytes:
    """The whole pid list in an open file, or b"" when it has none of this boot."""
    st = os.fstat(fd)
    return os.pread(fd, st.st_size, 0) if st.st_size and not _before_this_boot(st.st_mtime) else b""


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (field 22 of /proc/<pid>/stat), or None if it is gone
    or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return None if fields[0] == "Z" else fields[19]


class StateStore:
    __slots__ = ("root", "held")

    def __init__(self, cni_dir: str) -> None:
        self.root = cni_dir
        self.held: dict[str, ContainerLock] = {}  # the container locks this request holds, by container id

    def _container_dir(self, container_id: str) -> str:
        return os.path.join(self.root, "attachments", container_id)

    def path(self, container_id: str, ifname: str) -> str:
        return os.path.join(self._container_dir(container_id), f"{ifname}.json")

    def lock(self, container_id: str, required: bool = True) -> ContainerLock:
        """Hold the container's lock (`with store.lock(cid) as held:`); the lock file goes away with
        the container's last state.

        With `required=False` (DEL) a lock that cannot be taken (read-only or full disk) is not
        an error: the body runs without it and is told so (`held` is False).
        """
        return ContainerLock(self, container_id, required)

    @staticmethod
    def _acquire(path: str) -> int:
        import fcntl

        while True:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                mine = os.fstat(fd)
                try:
                    current = os.stat(path)
                except FileNotFoundError:
                    current = None
            except BaseException:
                os.close(fd)  # a descriptor kept here would hold the container's lock for good (a daemon)
                raise
            if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
                return fd
            os.close(fd)  # the previous holder removed the file: lock the new one instead

    def ifnames(self, container_id: str) -> list[str]:
        """Runtime ifnames that have state for this container."""
        try:
            names = os.listdir(self._container_dir(container_id))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n[:-5] for n in names if n.endswith(".json"))

    def load(self, container_id: str, ifname: str) -> CacheEntry | None:
        try:
            with open(self.path(container_id, ifname), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        try:
            entry = CacheEntry.from_json(jsonlite.loads(data))
        except (ValueError, RecursionError) as exc:
            raise CorruptState(f"{self.path(container_id, ifname)}: {exc}") from None
        stored = self._load_results(container_id, ifname)
        results = stored.get("results")
        if entry.attachment_id and stored.get("attachmentId") == entry.attachment_id and \
                isinstance(results, list) and len(results) == len(entry.delegates) and \
                all(r is None or isinstance(r, dict) for r in results):
            for delegate, result in zip(entry.delegates, results, strict=True):
                delegate.result = result
        return entry

    def _results_path(self, container_id: str, ifname: str) -> str:
        return os.path.join(self._container_dir(container_id), f"{ifname}.result")

    def _load_results(self, container_id: str, ifname: str) -> dict:
        """The results file, or {} when it is missing or unusable: then only results are lost (DEL
        runs without prevResult, CHECK fails), never the attachment. It counts only when it names
        the attachment's id (one left by another attachment, e.g. an older multus's, never does)."""
        try:
            with open(self._results_path(container_id, ifname), "rb") as f:
                data = jsonlite.loads(f.read())
        except (OSError, ValueError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}

    def save(self, entry: CacheEntry, update: bool = False) -> None:
        """The first version (before the first delegate runs) is a new file, durable on return.

        `update`: the delegates' results, once all succeeded, in a file of their own without fsync:
        the first version is durable already, so losing this one in a power cut only loses results.
        Replacing the first file instead (rename over it) cost ~0.55 ms more per ADD on the
        reference VM: ext4 flushes a file that replaces another (auto_da_alloc).
        """
        cid, ifname = entry.container_id, entry.ifname
        if update:
            payload = jsonlite.dumps({"attachmentId": entry.attachment_id,
                                      "results": [d.result for d in entry.delegates]}).encode()
            write_atomic(self._results_path(cid, ifname), payload, durable=False)
            return
        entry.attachment_id = entry.attachment_id or os.urandom(8).hex()
        makedirs_private(self._container_dir(cid))
        self._unlink(self._results_path(cid, ifname))  # no results may predate their attachment
        write_new(self.path(cid, ifname), jsonlite.dumps(entry.to_json()).encode())

    @staticmethod
    def _unlink(path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def remove(self, container_id: str, ifname: str) -> None:
        """Raises OSError when the disk refuses (read-only): the caller decides whether that matters.

        Results go first, so none outlives its attachment's state. A `<ifname>.pids` is what a
        killed request of an earlier multus (which kept delegate pids there) left; it would keep the
        container's directory from going."""
        self.sweep_temp_files(container_id, ifname)
        self._unlink(os.path.join(self._container_dir(container_id), f"{ifname}.pids"))
        self._unlink(self._results_path(container_id, ifname))
        self._unlink(self.path(container_id, ifname))
        try:
            os.rmdir(self._container_dir(container_id))
        except OSError:
            pass

    def sweep_temp_files(self, container_id: str, ifname: str | None = None,
                         older_than: float | None = None) -> list[str]:
        """Temp files of killed writers: one attachment's (DEL), or a container's old ones (GC)."""
        # For one attachment: its results file's temp, and a state temp an older multus (temp + rename) left.
        prefixes = () if ifname is None else (f"{ifname}.result", f"{ifname}.json")
        return sweep_temp_files(self._container_dir(container_id), prefixes, older_than)

    def record_process(self, container_id: str, pid: int) -> None:
        """Append "pid start-time" to the container's lock file: enough to recognise the same
        process later, not a reused pid.

        The lock file exists while the request runs and only its holder writes it, so a line costs
        one write(2) on an open descriptor (a file of its own per attachment cost ~0.2 ms per delegate
        on the reference VM: its creation, open and close). The start time is the clock now (the child
        was forked a moment ago), in the kernel's clock ticks since boot: reading /proc/<pid>/stat of
        a child that is still exec'ing waits for the exec (~1.7 ms per delegate).
        """
        lock = self.held.get(container_id)
        if lock is None:  # a DEL that could not take the lock (sick disk): nothing to write to
            return
        # The leading newline ends whatever a short write (a nearly full disk) may have cut short.
        lock.record(f"\n{pid} {boot_ticks()}".encode())

    def stop_processes(self, container_id: str) -> list[int]:
        """SIGKILL the process groups of delegates an interrupted request (killed while holding the
        container's lock) left running; return their pids. The list is emptied afterwards."""
        import _signal  # as cni.invoke: `signal` costs ~6 ms to import (enum)
        import time

        lock = self.held.get(container_id)
        recorded = lock.recorded() if lock is not None else _unheld_list(lock_path(self.root, container_id))
        legacy = self._legacy_lists(container_id) if lock is not None else {}
        recorded = b"\n".join([recorded, *legacy.values()]).strip(b"\n")
        stopped = []
        for line in recorded.split(b"\n"):
            pid_text, _, started = line.partition(b" ")  # bytes.isdigit: ASCII digits only
            actual = _start_time(int(pid_text)) if pid_text.isdigit() else None
            if actual is None or not started.isdigit() or not -1 <= int(started) - int(actual) <= RECORD_LAG_TICKS:
                continue
            try:
                os.killpg(int(pid_text), _signal.SIGKILL)
            except OSError:
                continue
            stopped.append(int(pid_text))
        deadline = time.monotonic() + 2
        while any(_start_time(pid) is not None for pid in stopped) and time.monotonic() < deadline:
            time.sleep(0.01)
        if lock is not None and recorded:
            lock.forget()
        elif lock is not None:
            lock.cleared = True  # nothing of this boot to stop: an old list goes at the end
        for path in legacy:
            try:
                os.unlink(path)
            except OSError:
                pass  # what it lists is stopped: the next holder finds those processes gone
        return stopped

    def _legacy_lists(self, container_id: str) -> dict[str, bytes]:
        """The `<ifname>.pids` files an earlier multus (before the lists moved into the lock file)
        left when it was killed mid-request, by path: the same "pid start-time" lines. Read only
        under the container's lock, which that multus took at the same path."""
        directory = self._container_dir(container_id)
        try:
            names = [n for n in os.listdir(directory) if n.endswith(".pids")]
        except OSError:
            return {}
        lists = {}
        for name in names:
            path = os.path.join(directory, name)
            try:
                with open(path, "rb") as f:
                    lists[path] = _list_in(f.fileno())
            except OSError:
                continue
        return lists

    def taken_ifnames(self, container_id: str, runtime_ifname: str) -> set[str]:
        """Every interface name other attachments of this container use."""
        taken: set[str] = set()
        for other in self.ifnames(container_id):
            if other == runtime_ifname:
                continue
            taken.add(other)
            try:
                entry = self.load(container_id, other)
            except (CorruptState, OSError):
                continue
            if entry:
                taken.update(d.ifname for d in entry.delegates)
        return taken

    def containers(self) -> list[str]:
        try:
            return sorted(os.listdir(os.path.join(self.root, "attachments")))
        except FileNotFoundError:
            return []


def lock_path(root: str, container_id: str) -> str:
    return os.path.join(root, "locks", container_id)


def _unheld_list(path: str) -> bytes:
    """The list in a lock file this request could not lock for writing (read-only or sick disk), or
    b"" when another request holds it: that holder's delegates are alive and its own."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return b""
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return b""
        return _list_in(fd)
    finally:
        os.close(fd)


class ContainerLock:
    """The per-container flock, as a context manager without contextlib (~7 ms to import).

    The lock file also holds the pids of the delegates the holder started (`record`): emptied when
    the request ends, so what a later holder finds there is what a killed one left running. Emptied
    only once the holder has dealt with that (`StateStore.stop_processes`): a holder that has not
    leaves the list, its own finished delegates included, for the next one.
    """

    __slots__ = ("store", "container_id", "required", "path", "fd", "cleared")

    def __init__(self, store: StateStore, container_id: str, required: bool) -> None:
        self.store = store
        self.container_id = container_id
        self.required = required
        self.path = lock_path(store.root, container_id)
        self.fd = -1
        self.cleared = False  # what a killed holder left has been stopped (or there was none)

    def __enter__(self) -> bool:
        try:
            makedirs_private(os.path.dirname(self.path))
            self.fd = self.store._acquire(self.path)
        except OSError as exc:
            if not self.required:
                return False
            raise CniError(IO_FAILURE, f"cannot lock state {self.path}: {exc.strerror}") from None
        self.store.held[self.container_id] = self
        return True

    def record(self, line: bytes) -> None:
        """Raises OSError when the disk refuses (full): the caller logs it."""
        os.write(self.fd, line)

    def recorded(self) -> bytes:
        """The list a killed holder left, or b"" when there is none of this boot."""
        return _list_in(self.fd)

    def forget(self) -> None:
        """Best effort: a list left behind names processes that are gone, which the next holder skips."""
        try:
            os.ftruncate(self.fd, 0)  # the descriptor appends: the next line goes at the start
            self.cleared = True
        except OSError:
            pass

    def __exit__(self, *exc: object) -> None:
        if self.fd < 0:
            return
        self.store.held.pop(self.container_id, None)
        try:
            listed = os.fstat(self.fd).st_size
            if not self.store.ifnames(self.container_id) and (self.cleared or not listed):
                os.unlink(self.path)
            elif listed and self.cleared:
                self.forget()
        except OSError:
            pass
        finally:
            os.close(self.fd)
