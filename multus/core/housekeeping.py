"""STATUS and GC (CNI 1.1): node-level requests that carry no single container.

STATUS asks the master delegate only, as upstream does: a secondary network being down
should not mark the whole node's networking unready.

GC looks only at attachments of its own multus network (the state records the network's
name): runtimes call GC per network, and several networks share one cniDir. An attachment
of this network that the runtime no longer lists is undone like a DEL. Then GC goes to each
1.1 delegate with the attachments that must stay, in that delegate's interface names; an
attachment GC cannot judge (another network's, or one whose state is unreadable) always
stays, so no delegate ever frees what a running pod holds.
"""

from __future__ import annotations

import functools

from multus.cni.env import CmdArgs
from multus.cni.errors import INVALID_CONFIG, CniError
from multus.core.attach import Attacher
from multus.core.delegate import Delegate
from multus.core.resolve import place
from multus.core.state import CacheEntry, CorruptState

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from collections.abc import Callable

    Cluster = Callable[[str], list[Delegate]]

VALID_KEY = "cni.dev/valid-attachments"
# A temp file younger than this may belong to a writer that is still running.
STALE_TEMP_SECONDS = 60.0


def status(attacher: Attacher, cluster: Cluster) -> None:
    cluster("eth0")[0].network.status(attacher.cni)


def _valid_attachments(raw: dict) -> set[tuple[str, str]]:
    items = raw.get(VALID_KEY, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise CniError(INVALID_CONFIG, f"{VALID_KEY!r} must be a list of objects")
    return {(str(i.get("containerID", "")), str(i.get("ifname", ""))) for i in items}


class _Stored:
    """One attachment found under cniDir, as far as GC can tell what it is."""

    __slots__ = ("container_id", "ifname", "delegates", "entry", "unknown")

    def __init__(self, container_id: str, ifname: str, delegates: list[Delegate], entry: CacheEntry | None = None,
                 unknown: CniError | None = None) -> None:
        self.container_id = container_id
        self.ifname = ifname
        self.delegates = delegates
        self.entry = entry  # the state as read; None when unreadable
        self.unknown = unknown  # why GC cannot tell which delegates hold it


def _survey(helper: Attacher, cluster: Cluster) -> list[_Stored]:
    found = []
    for cid in helper.store.containers():
        helper.store.sweep_temp_files(cid, older_than=STALE_TEMP_SECONDS)
        for ifname in helper.store.ifnames(cid):
            try:
                entry = helper.store.load(cid, ifname)
            except (CorruptState, OSError) as exc:
                helper.log.error(f"GC: keeping {cid}/{ifname}: its state is unreadable ({exc})")
                entry = None
            if entry is None:
                # Names as a DEL without state would use: the best guess of what it holds.
                try:
                    guess = cluster(ifname)
                except CniError as exc:
                    found.append(_Stored(cid, ifname, [], unknown=exc.wrap(f"GC: cannot tell what {cid}/{ifname} "
                                                                          f"holds")))
                    continue
                place(guess, ifname, (), helper.netconf.devinfo_dir, cid)
                found.append(_Stored(cid, ifname, guess))
            else:
                found.append(_Stored(cid, ifname, entry.delegates, entry))
    return found


def gc(helper: Attacher, cluster: Cluster) -> None:
    """`cluster(ifname)` resolves the network's own delegates (what a DEL without state deletes)."""
    netconf, cmd, log = helper.netconf, helper.cmd, helper.log
    valid = _valid_attachments(netconf.raw)
    errors: list[CniError] = []
    kept: list[_Stored] = []
    for item in _survey(helper, cluster):
        entry = item.entry
        if entry is None or entry.network != netconf.name or (item.container_id, item.ifname) in valid:
            kept.append(item)
            continue
        log.verbose(f"GC: removing stale attachment {item.container_id}/{item.ifname}")
        stale = CmdArgs("DEL", item.container_id, entry.netns, item.ifname, entry.cni_args, cmd.path, cmd.environ,
                        b"")
        try:
            helper.for_attachment(stale).delete(functools.partial(cluster, item.ifname))
        except CniError as exc:
            kept.append(item)
            errors.append(exc.wrap(f"GC of {item.container_id}/{item.ifname}"))
    in_use: dict[str, list[dict]] = {}
    for item in kept:
        for d in item.delegates:
            in_use.setdefault(d.conf.get("name", ""), []).append({"containerID": item.container_id,
                                                                  "ifname": d.ifname})
    unknown = [item.unknown for item in kept if item.unknown is not None]
    if unknown:
        # Delegates would free what that attachment may still use: their GC waits for the next run.
        raise CniError(unknown[0].code, "; ".join(e.msg for e in errors + unknown) + "; delegate GC skipped")
    for delegate in cluster("eth0"):
        if not delegate.network.collects_garbage():
            continue
        try:
            delegate.network.gc(helper.cni, in_use.get(delegate.conf.get("name", ""), []))
        except CniError as exc:
            errors.append(exc.wrap(f"GC of delegate {delegate.label}"))
    if errors:
        raise CniError(errors[0].code, "; ".join(e.msg for e in errors))
