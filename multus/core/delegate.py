"""The delegate model: one network to attach, as resolution produced it and execution runs it.

Everything execution and a later DEL need is here and persisted in the attachment state:
its identity (`ns/nad`, or the config's name), the interface name, the config as sent, its
own CNI_ARGS and capability args (the pod's per-network requests), the default-route
requests, the device it holds, and its result.
"""

from __future__ import annotations

from multus.cni.runtime import Network, RuntimeConf

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from collections.abc import Iterable

MULTUS_ONLY_KEYS = ("masterplugin",)


class Delegate:
    __slots__ = ("name", "source", "ifname", "requested_ifname", "master", "conf", "args", "runtime_config",
                 "gateways", "filter_families", "device_id", "resource", "devinfo", "result")

    def __init__(self, name: str, source: str, master: bool, conf: dict, args: str = "",
                 runtime_config: dict | None = None, ifname: str = "", requested_ifname: str = "") -> None:
        self.name = name
        self.source = source
        self.master = master
        self.conf = conf
        self.args = args
        self.runtime_config = runtime_config or {}
        self.ifname = ifname
        self.requested_ifname = requested_ifname
        self.gateways: list[str] | None = None
        self.filter_families: list[str] = []
        self.device_id = ""
        self.resource = ""
        self.devinfo = ""
        self.result: dict | None = None

    @property
    def network(self) -> Network:
        return Network(self.conf)

    @property
    def label(self) -> str:
        kind = self.conf.get("type") or "+".join(p.get("type", "?") for p in self.conf.get("plugins", []))
        return f'"{self.name}" ({kind} on {self.ifname})'

    def runtime(self, container_id: str, netns: str) -> RuntimeConf:
        return RuntimeConf(container_id, netns, self.ifname, self.args, self.runtime_config)

    def to_json(self) -> dict:
        out = {"name": self.name, "source": self.source, "ifname": self.ifname, "master": self.master,
               "conf": self.conf, "args": self.args, "runtimeConfig": self.runtime_config, "result": self.result}
        if self.requested_ifname:
            out["requestedIfname"] = self.requested_ifname
        if self.gateways is not None:
            out["defaultRoute"] = self.gateways
        if self.filter_families:
            out["filterFamilies"] = self.filter_families
        if self.device_id:
            out.update(deviceID=self.device_id, resourceName=self.resource, deviceInfoFile=self.devinfo)
        return out

    @classmethod
    def from_json(cls, data: dict) -> Delegate:
        d = cls(str(data["name"]), str(data.get("source", "")), bool(data["master"]), dict(data["conf"]),
                str(data.get("args", "")), dict(data.get("runtimeConfig") or {}), str(data["ifname"]),
                str(data.get("requestedIfname", "")))
        d.gateways = list(data["defaultRoute"]) if data.get("defaultRoute") is not None else None
        d.filter_families = [str(f) for f in data.get("filterFamilies", [])]
        d.device_id = str(data.get("deviceID", ""))
        d.resource = str(data.get("resourceName", ""))
        d.devinfo = str(data.get("deviceInfoFile", ""))
        d.result = data.get("result")
        return d


def prepare_conf(raw: dict, name: str, cni_version: str) -> dict:
    """What the plugin is sent: the operator's object plus the name and version it lacks.

    The classic config's delegates have neither, and today's bridge and host-local refuse a
    config without a name; the parent's name is safe because host-local keys reservations by
    container ID and ifname.
    """
    conf = {k: v for k, v in raw.items() if k not in MULTUS_ONLY_KEYS}
    conf.setdefault("name", name)
    conf.setdefault("cniVersion", cni_version)
    return conf


def assign_ifnames(delegates: list[Delegate], runtime_ifname: str, taken: Iterable[str] = ()) -> None:
    """Interface names by position (multus-behaviour.md §7): a requested name wins; the master
    gets the runtime's name; position i gets net<i> (so `a@foo, b` gives foo, net2).

    A net<i> another attachment of the same container holds is skipped (net<i+1>, ...), so two
    multus attachments in one container never collide.
    """
    used = {runtime_ifname, *taken, *(d.requested_ifname for d in delegates if d.requested_ifname)}
    for position, delegate in enumerate(delegates):
        if delegate.requested_ifname:
            delegate.ifname = delegate.requested_ifname
        elif position == 0:
            delegate.ifname = runtime_ifname
        else:
            k = position
            while f"net{k}" in used:
                k += 1
            used.add(f"net{k}")
            delegate.ifname = f"net{k}"
