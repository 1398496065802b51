"""Execution: run resolved delegates, keep their state, roll back, and undo.

ADD writes the state before the first delegate runs, so a DEL after any failure (or a kill)
knows what may have been attached. DEL attempts every delegate and keeps the state when one
fails, so a retried DEL finishes the job. What to run comes from resolution (core.resolve);
how plugins run comes from the CNIConfig; this module only runs, records and undoes.
"""

from __future__ import annotations

import os

from multus.cni import netns
from multus.cni import result as cniresult
from multus.cni.errors import INTERNAL, IO_FAILURE, UNKNOWN_CONTAINER, CniError, internal_error
from multus.cni.runtime import CNIConfig
from multus.core.log import redact
from multus.core.resolve import place
from multus.core.state import CacheEntry, CorruptState, StateStore

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from collections.abc import Callable

    from multus.cni.env import CmdArgs
    from multus.core.delegate import Delegate
    from multus.core.log import Logger
    from multus.core.netconf import NetConf


class _Failed(Exception):
    """A delegate's ADD failed: which one, and its error (code kept)."""

    def __init__(self, delegate: Delegate, error: CniError) -> None:
        super().__init__(error.msg)
        self.delegate = delegate
        self.error = error


def cni_config(netconf: NetConf, cmd: CmdArgs, builtins: dict[str, list[str]] | None = None) -> CNIConfig:
    """How this request's plugins run: binDir, then the runtime's CNI_PATH; the runtime's environment."""
    return CNIConfig(netconf.plugin_path + cmd.path, cmd.environ, netconf.delegate_timeout, builtins)


class Attacher:
    """Runs one request's delegates with the runtime's identity and the operator's settings."""

    __slots__ = ("netconf", "cmd", "log", "store", "cni", "delegate_seconds")

    def __init__(self, netconf: NetConf, cmd: CmdArgs, log: Logger, cni: CNIConfig) -> None:
        self.netconf = netconf
        self.cmd = cmd
        self.log = log
        self.cni = cni
        self.store = StateStore(netconf.cni_dir)
        self.delegate_seconds = 0.0  # time in delegates' ADDs (the verbose timing line)

    # --- the exec observer ------------------------------------------------------------------
    def spawned(self, pid: int) -> None:
        """Remembered so that if this process is killed, the next request can stop the orphan.

        Best effort: a full or read-only disk must not stop a DEL, and an ADD's state is on disk already.
        """
        try:
            self.store.record_process(self.cmd.container_id, pid)
        except OSError as exc:
            self.log.error(f"cannot record delegate process {pid} under {self.netconf.cni_dir}: {exc.strerror}")

    def exited(self, name: str, command: str, stdin: bytes, rc: int, out: bytes, err: bytes) -> None:
        if not self.log.enabled("debug"):
            return
        self.log.debug(f"{command} {name}: sent {redact(stdin.decode(errors='replace'))}")
        self.log.debug(f"{command} {name}: exit {rc}, stdout {out.decode(errors='replace').strip() or '<empty>'}"
                       + (f", stderr {err.decode(errors='replace').strip()}" if err.strip() else ""))

    # --- state ------------------------------------------------------------------------------
    def _entry(self, delegates: list[Delegate]) -> CacheEntry:
        return CacheEntry(self.cmd.container_id, self.cmd.ifname, self.cmd.netns, self.cmd.args,
                          self.netconf.name, delegates)

    def _save(self, entry: CacheEntry) -> None:
        try:
            self.store.save(entry)
        except OSError as exc:
            where = self.store.path(entry.container_id, entry.ifname)
            raise CniError(IO_FAILURE, f"cannot write state {where}: {exc.strerror}") from None

    def _discard(self, cid: str, ifname: str) -> None:
        """Remove an attachment's state; when the disk refuses, a later DEL or GC finishes the job."""
        try:
            self.store.remove(cid, ifname)
        except OSError as exc:
            self.log.error(f"cannot remove state of {cid}/{ifname} under {self.netconf.cni_dir} "
                           f"({exc.strerror}); a later DEL or GC removes it")

    def _stored(self) -> CacheEntry | None:
        try:
            return self.store.load(self.cmd.container_id, self.cmd.ifname)
        except CorruptState as exc:
            self.log.error(f"ignoring corrupt state, deleting the current config's delegates instead: {exc}")
        except OSError as exc:
            self.log.error(f"cannot read state of {self.cmd.container_id}/{self.cmd.ifname} ({exc.strerror}), "
                           f"deleting the current config's delegates instead")
        return None

    def _stop_orphans(self) -> None:
        """Delegates still running from a request whose multus was killed (e.g. by the runtime's
        timeout) would finish after this one and leak what they attach: stop them first."""
        for pid in self.store.stop_processes(self.cmd.container_id):
            self.log.error(f"stopped delegate process {pid} left running by an interrupted request")

    # --- ADD --------------------------------------------------------------------------------
    def add(self, delegates: list[Delegate], attached: Callable[[], None] | None = None) -> dict:
        """Attach every delegate; return the master's result in the config's cniVersion.

        `attached` (the network-status write) runs once every delegate has succeeded, beside the
        results update and under the container's lock; when it fails, the ADD is rolled back as
        when a delegate fails.
        """
        cid, ifname = self.cmd.container_id, self.cmd.ifname
        netns.require(self.cmd.netns)
        with self.store.lock(cid):
            self._stop_orphans()
            if ifname in self.store.ifnames(cid):
                raise CniError(INTERNAL, f"container {cid} already has a multus attachment on {ifname}: "
                                         f"DEL it before adding it again")
            place(delegates, ifname, self.store.taken_ifnames(cid, ifname), self.netconf.devinfo_dir, cid)
            present = sorted(netns.link_names(self.cmd.netns) & {d.ifname for d in delegates})
            if present:
                # Never roll back an interface this ADD did not create: refuse before anything runs.
                raise CniError(INTERNAL, f"interface {', '.join(present)} already exists in {self.cmd.netns}; "
                                         f"nothing was changed")
            entry = self._entry(delegates)
            self._save(entry)
            attempted: list[Delegate] = []
            try:
                self._add_each(delegates, attempted)
                self._after_delegates(entry, attached)
            except BaseException as exc:
                self._rollback(attempted)
                self._discard(cid, ifname)
                if isinstance(exc, _Failed):
                    raise exc.error.wrap(f"delegate {exc.delegate.label}: ADD failed") from None
                if isinstance(exc, CniError):
                    raise
                if isinstance(exc, Exception):
                    raise internal_error(exc) from exc
                raise
        master = delegates[0]
        assert master.result is not None
        return cniresult.convert(master.result, cniresult.version_of(master.result, master.network.cni_version),
                                 self.netconf.cni_version)

    def _save_results(self, entry: CacheEntry) -> None:
        """Best effort: the first version is durable already, so a results file the disk refuses
        costs DEL its prevResult and CHECK its answer, not the pod its networks."""
        try:
            self.store.save(entry, update=True)
        except OSError as exc:
            self.log.error(f"cannot write the results of {entry.container_id}/{entry.ifname} under "
                           f"{self.netconf.cni_dir} ({exc.strerror}): a DEL runs without prevResult, CHECK fails")

    def _after_delegates(self, entry: CacheEntry, attached: Callable[[], None] | None) -> None:
        """The results update and `attached()` side by side: the one writes a file while the other
        waits on the API server (~0.7 ms of each Kubernetes-mode ADD on the reference VM)."""
        if attached is None:
            self._save_results(entry)
            return
        import _thread  # not threading: ~1 ms to import on every thin exec

        written = _thread.allocate_lock()
        written.acquire()
        failures: list[BaseException] = []

        def update() -> None:
            try:
                self._save_results(entry)
            except BaseException as exc:  # a bug: handed to the request's thread, which raises it
                failures.append(exc)
            finally:
                written.release()

        _thread.start_new_thread(update, ())
        try:
            attached()
        finally:
            written.acquire()
        if failures:
            raise failures[0]

    def _add_each(self, delegates: list[Delegate], attempted: list[Delegate]) -> None:
        """The master first; then the others one by one, or all together with concurrentDelegates.

        Either way the same delegates get the same names and configs, and a failure rolls back
        everything started, so results, state and output do not depend on the mode.
        """
        rest = delegates[1:]
        groups = [delegates[:1], rest] if self.netconf.concurrent_delegates and len(rest) > 1 else \
            [[d] for d in delegates]
        for group in groups:
            attempted.extend(group)
            failures = self._add_group(group)
            if failures:
                raise failures[0]

    def _add_one(self, delegate: Delegate) -> _Failed | None:
        """A failure of any kind is a value here, so a worker thread cannot lose it."""
        import time

        self.log.verbose(f"ADD {delegate.label}")
        started = time.perf_counter()
        try:
            self._copy_device_info(delegate)
            delegate.result = delegate.network.add(self.cni, delegate.runtime(self.cmd.container_id, self.cmd.netns),
                                                   self)
            self.delegate_seconds += time.perf_counter() - started
            if delegate.filter_families:
                from multus.core import defaultroute

                if defaultroute.applies(delegate):
                    defaultroute.apply(delegate, self.cmd.netns)
        except CniError as exc:
            return _Failed(delegate, exc)
        except Exception as exc:
            self.log.error(f"ADD {delegate.label}: {internal_error(exc)}")
            return _Failed(delegate, internal_error(exc))
        return None

    def _add_group(self, group: list[Delegate]) -> list[_Failed]:
        if len(group) == 1:
            failed = self._add_one(group[0])
            return [failed] if failed else []
        import threading

        outcomes: list[_Failed | None] = [None] * len(group)

        def work(i: int) -> None:
            outcomes[i] = self._add_one(group[i])

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(group))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return [o for o in outcomes if o is not None]

    def _copy_device_info(self, delegate: Delegate) -> None:
        """The device plugin's device-info file, copied where the delegate is told to find it (best effort)."""
        if not delegate.devinfo:
            return
        from multus.fileutil import makedirs_private, write_atomic
        from multus.k8s.devices import dp_devinfo_path

        try:
            with open(dp_devinfo_path(self.netconf.devinfo_dir, delegate.resource, delegate.device_id), "rb") as f:
                data = f.read()
            makedirs_private(os.path.dirname(delegate.devinfo))
            write_atomic(delegate.devinfo, data)
        except OSError:
            return

    def _rollback(self, attempted: list[Delegate]) -> None:
        for delegate in reversed(attempted):
            try:
                self._delete_one(delegate)
            except Exception as exc:
                self.log.error(f"rollback of {delegate.label} failed: {exc}")

    def _delete_one(self, delegate: Delegate) -> None:
        delegate.network.delete(self.cni, delegate.runtime(self.cmd.container_id, self.cmd.netns), delegate.result,
                                self)
        if delegate.devinfo:
            try:
                os.unlink(delegate.devinfo)
            except OSError:
                pass

    # --- DEL --------------------------------------------------------------------------------
    def delete(self, fallback: Callable[[], list[Delegate]]) -> None:
        """Undo the stored attachment, or, without usable state, what `fallback()` resolves.

        Runs every delegate DEL it can determine even when the state directory is sick (full,
        read-only): the runtime retries a failed DEL forever, so only a delegate's failure fails it.
        """
        cid, ifname = self.cmd.container_id, self.cmd.ifname
        with self.store.lock(cid, required=False) as held:
            if not held:
                self.log.error(f"cannot lock state under {self.netconf.cni_dir}: deleting without the lock")
            try:
                self._stop_orphans()
            except OSError as exc:
                self.log.error(f"cannot read delegate processes of {cid}/{ifname}: {exc.strerror}")
            self.store.sweep_temp_files(cid, ifname)
            entry = self._stored()
            if entry is None:
                self.log.verbose(f"no state for {cid}/{ifname}: deleting the current config's delegates")
                delegates = fallback()
                place(delegates, ifname, self.store.taken_ifnames(cid, ifname), self.netconf.devinfo_dir, cid)
            else:
                delegates = entry.delegates
            errors = []
            for delegate in reversed(delegates):
                try:
                    self.log.verbose(f"DEL {delegate.label}")
                    self._delete_one(delegate)
                except CniError as exc:
                    errors.append(exc.wrap(f"delegate {delegate.label}: DEL failed"))
                except Exception as exc:
                    errors.append(internal_error(exc).wrap(f"delegate {delegate.label}: DEL failed"))
            if errors:
                raise CniError(errors[0].code, "; ".join(e.msg for e in errors),
                               "; ".join(e.details for e in errors if e.details))
            self._discard(cid, ifname)

    # --- CHECK ------------------------------------------------------------------------------
    def check(self) -> None:
        cid, ifname = self.cmd.container_id, self.cmd.ifname
        netns.require(self.cmd.netns)
        with self.store.lock(cid):
            self._stop_orphans()
            try:
                entry = self.store.load(cid, ifname)
            except CorruptState as exc:
                raise CniError(IO_FAILURE, f"state for {cid}/{ifname} is unreadable: {exc}") from None
            if entry is None:
                raise CniError(UNKNOWN_CONTAINER, f"no multus attachment for container {cid} on {ifname}")
            for delegate in entry.delegates:
                network = delegate.network
                if not network.can_check():
                    self.log.verbose(f"CHECK skipped for {delegate.label}: version {network.cni_version}")
                    continue
                try:
                    network.check(self.cni, delegate.runtime(cid, self.cmd.netns), delegate.result, self)
                except CniError as exc:
                    raise exc.wrap(f"delegate {delegate.label}: CHECK failed") from None

    def for_attachment(self, cmd: CmdArgs) -> Attacher:
        """The same settings, acting on another attachment (GC)."""
        return Attacher(self.netconf, cmd, self.log, self.cni)

