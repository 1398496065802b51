"""Resolution: which delegates run, in which order, under which interface names.

Kept apart from execution so that other sources of delegates (NetworkAttachmentDefinitions,
pod annotations) only have to produce the same `Delegate` list.
"""

from __future__ import annotations

from multus.cni.runtime import Network

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from collections.abc import Iterable

    from multus.core.netconf import NetConf

MULTUS_ONLY_KEYS = ("masterplugin",)


class Delegate:
    """One network to attach: its config as sent to the plugin, its ifname, and its result."""

    __slots__ = ("index", "ifname", "master", "conf", "result")

    def __init__(self, index: int, ifname: str, master: bool, conf: dict, result: dict | None = None) -> None:
        self.index = index
        self.ifname = ifname
        self.master = master
        self.conf = conf
        self.result = result

    @property
    def network(self) -> Network:
        return Network(self.conf)

    @property
    def label(self) -> str:
        kind = self.conf.get("type") or "+".join(p.get("type", "?") for p in self.conf.get("plugins", []))
        return f'"{self.conf.get("name", "")}" ({kind} on {self.ifname})'

    def to_json(self) -> dict:
        return {"index": self.index, "ifname": self.ifname, "master": self.master, "conf": self.conf,
                "result": self.result}

    @classmethod
    def from_json(cls, data: dict) -> Delegate:
        return cls(int(data["index"]), str(data["ifname"]), bool(data["master"]), dict(data["conf"]),
                   data.get("result"))


def prepare_conf(raw: dict, netconf: NetConf) -> dict:
    """What the plugin is sent: the operator's object plus the name and version it lacks.

    The classic config's delegates have neither, and today's bridge and host-local refuse a
    config without a name; the parent's name is safe because host-local keys reservations by
    container ID and ifname.
    """
    conf = {k: v for k, v in raw.items() if k not in MULTUS_ONLY_KEYS}
    conf.setdefault("name", netconf.name)
    conf.setdefault("cniVersion", netconf.cni_version)
    return conf


def execution_order(netconf: NetConf) -> list[int]:
    """Master first, then the others in list order."""
    others = [i for i in range(len(netconf.delegates)) if i != netconf.master_index]
    return [netconf.master_index, *others]


def assign_ifnames(count: int, runtime_ifname: str, taken: Iterable[str] = ()) -> list[str]:
    """Position 0 (the master) gets the runtime's name; position i gets net<i>.

    A name already used by another attachment of the same container is skipped (net<i+1>, ...),
    so two multus attachments in one container never collide.
    """
    used = {runtime_ifname, *taken}
    names = [runtime_ifname]
    for position in range(1, count):
        k = position
        while f"net{k}" in used:
            k += 1
        used.add(f"net{k}")
        names.append(f"net{k}")
    return names


def resolve(netconf: NetConf, runtime_ifname: str, taken: Iterable[str] = ()) -> list[Delegate]:
    order = execution_order(netconf)
    names = assign_ifnames(len(order), runtime_ifname, taken)
    return [Delegate(index, ifname, position == 0, prepare_conf(netconf.delegates[index], netconf))
            for position, (index, ifname) in enumerate(zip(order, names, strict=True))]
