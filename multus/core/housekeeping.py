"""STATUS and GC (CNI 1.1): node-level requests that carry no single container.

STATUS asks the master delegate only, as upstream does: a secondary network being down
should not mark the whole node's networking unready. GC removes every attachment the runtime
no longer lists (undoing its delegates, like a DEL), then forwards GC to each 1.1 delegate
with the valid attachments translated to that delegate's interface names.
"""

from __future__ import annotations

from multus.cni.env import CmdArgs
from multus.cni.errors import INVALID_CONFIG, CniError
from multus.core.attach import Attacher
from multus.core.delegate import resolve
from multus.core.state import CacheEntry, CorruptState

VALID_KEY = "cni.dev/valid-attachments"


def status(attacher: Attacher) -> None:
    master = resolve(attacher.netconf, "eth0")[0]
    master.network.status(attacher.runtime(master))


def _valid_attachments(raw: dict) -> set[tuple[str, str]]:
    items = raw.get(VALID_KEY, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise CniError(INVALID_CONFIG, f"{VALID_KEY!r} must be a list of objects")
    return {(str(i.get("containerID", "")), str(i.get("ifname", ""))) for i in items}


def _load(helper: Attacher, cid: str, ifname: str) -> CacheEntry | None:
    try:
        return helper.store.load(cid, ifname)
    except CorruptState:
        return None


def gc(helper: Attacher) -> None:
    """Stale attachments are found from directory names alone; files are read only when needed
    (to undo a stale attachment, or to tell a 1.1 delegate which of its attachments remain)."""
    netconf, cmd, log = helper.netconf, helper.cmd, helper.log
    valid = _valid_attachments(netconf.raw)
    errors: list[CniError] = []
    stored = [(cid, ifname) for cid in helper.store.containers() for ifname in helper.store.ifnames(cid)]
    for cid, ifname in stored:
        if (cid, ifname) in valid:
            continue
        log.verbose(f"GC: removing stale attachment {cid}/{ifname}")
        entry = _load(helper, cid, ifname)
        stale = CmdArgs("DEL", cid, entry.netns if entry else "", ifname, entry.cni_args if entry else "",
                        cmd.path, cmd.environ, b"")
        try:
            helper.for_attachment(stale).delete()
        except CniError as exc:
            errors.append(exc.wrap(f"GC of {cid}/{ifname}"))
    collecting = [d for d in resolve(netconf, "eth0") if d.network.collects_garbage()]
    kept: dict[str, list[dict]] = {}
    if collecting:
        for cid, ifname in stored:
            entry = _load(helper, cid, ifname) if (cid, ifname) in valid else None
            for d in entry.delegates if entry else []:
                kept.setdefault(d.conf.get("name", ""), []).append({"containerID": cid, "ifname": d.ifname})
    for delegate in collecting:
        try:
            delegate.network.gc(helper.runtime(delegate), kept.get(delegate.conf.get("name", ""), []))
        except CniError as exc:
            errors.append(exc.wrap(f"GC of delegate {delegate.label}"))
    if errors:
        raise CniError(errors[0].code, "; ".join(e.msg for e in errors))
