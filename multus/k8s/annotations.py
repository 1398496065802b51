"""The pod annotations Multus reads: `k8s.v1.cni.cncf.io/networks` (text and JSON forms) and
`v1.multus-cni.io/default-network` (multus-behaviour.md §4).

Every error names the annotation, the item and what is wrong, so an app owner can fix the pod.
"""

from __future__ import annotations

from multus import jsonlite
from multus.cni.env import check_ifname
from multus.cni.errors import INVALID_CONFIG, CniError

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from collections.abc import Callable

NETWORKS = "k8s.v1.cni.cncf.io/networks"
DEFAULT_NETWORK = "v1.multus-cni.io/default-network"
NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"
RESOURCE_NAME = "k8s.v1.cni.cncf.io/resourceName"
CONFIG_SOURCE = "kubernetes.io/config.source"
CONFIG_MIRROR = "kubernetes.io/config.mirror"
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_HEX = frozenset("0123456789abcdefABCDEF")


def is_dns_label(value: str) -> bool:
    """RFC 1123 label: lower case alphanumerics and '-', not starting or ending with '-' (no `re`:
    it costs ~7 ms to import on every ADD)."""
    return 0 < len(value) <= 63 and _LABEL_CHARS.issuperset(value) and value[0] != "-" and value[-1] != "-"


def is_hex_pairs(value: str, counts: tuple[int, ...], separators: str = ":") -> bool:
    """Two-digit hex groups split by one kind of separator, in one of the allowed group counts."""
    for sep in separators:
        groups = value.split(sep)
        if len(groups) in counts and all(len(g) == 2 and _HEX.issuperset(g) for g in groups):
            return True
    return False


class Selection:
    """One network a pod asks for, with its per-attachment requests."""

    __slots__ = ("namespace", "name", "interface", "ips", "mac", "infiniband_guid", "port_mappings", "bandwidth",
                 "cni_args", "default_route", "device_id", "item")

    def __init__(self, namespace: str, name: str, item: str) -> None:
        self.namespace = namespace
        self.name = name
        self.item = item
        self.interface = ""
        self.ips: list[str] = []
        self.mac = ""
        self.infiniband_guid = ""
        self.port_mappings: list | None = None
        self.bandwidth: dict | None = None
        self.cni_args: dict | None = None
        self.default_route: list[str] | None = None
        self.device_id = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _fail(where: str, item: str, msg: str) -> CniError:
    return CniError(INVALID_CONFIG, f"{where}: item {item!r}: {msg}")


def parse(value: str, default_namespace: str, where: str = NETWORKS) -> list[Selection]:
    """Text form (`[ns/]name[@ifname], ...`) unless the value contains `[`, `{` or `"` (JSON form)."""
    if not isinstance(value, str):
        raise CniError(INVALID_CONFIG, f"{where}: must be a string")
    if any(c in value for c in '[{"'):
        return _parse_json(value, default_namespace, where)
    return [_parse_text_item(item.strip(), default_namespace, where) for item in value.split(",") if item.strip()]


def _parse_text_item(item: str, default_namespace: str, where: str) -> Selection:
    if item.count("/") > 1 or item.count("@") > 1:
        raise _fail(where, item, "expected [namespace/]name[@interface]")
    namespace, _, rest = item.rpartition("/")
    name, _, interface = rest.partition("@")
    for label, value in (("namespace", namespace), ("name", name)):
        if (value or label == "name") and not is_dns_label(value):
            raise _fail(where, item, f"{label} {value!r} is not a DNS-1123 label (lower case letters, digits, '-')")
    selection = Selection(namespace or default_namespace, name, item)
    if "@" in item:
        _set_interface(selection, interface, where)
    return selection


def _set_interface(selection: Selection, interface: object, where: str) -> None:
    if not isinstance(interface, str):
        raise _fail(where, selection.item, "'interface' must be a string")
    problem = check_ifname(interface)
    if problem:
        raise _fail(where, selection.item, problem)
    selection.interface = interface


def _parse_json(value: str, default_namespace: str, where: str) -> list[Selection]:
    try:
        doc = jsonlite.loads(value)
    except ValueError as exc:
        raise CniError(INVALID_CONFIG, f"{where}: not valid JSON: {exc}") from None
    if not isinstance(doc, list):
        raise CniError(INVALID_CONFIG, f"{where}: the JSON form must be a list of objects")
    return [_parse_json_item(entry, i, default_namespace, where) for i, entry in enumerate(doc)]


def _addresses(entry: dict, key: str, items: str, parse: Callable[[str], object], what: str,
               selection: Selection, where: str) -> list[str]:
    """A list of addresses checked one by one, so the error names the bad one, not the list."""
    values = entry[key]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _fail(where, selection.item, f"{key!r} must be a list of {items}")
    for value in values:
        try:
            parse(value)
        except ValueError:
            raise _fail(where, selection.item, f"{key!r}: {value!r} is not {what}") from None
    return list(values)


def _parse_json_item(entry: object, index: int, default_namespace: str, where: str) -> Selection:
    label = f"[{index}]"
    if not isinstance(entry, dict):
        raise _fail(where, label, "must be an object")
    name, namespace = entry.get("name"), entry.get("namespace") or default_namespace
    if not isinstance(name, str) or not name:
        raise _fail(where, label, "'name' must be a non-empty string")
    if not isinstance(namespace, str):
        raise _fail(where, label, "'namespace' must be a string")
    for key, value in (("namespace", namespace), ("name", name)):
        if not is_dns_label(value):  # both go into an API path: nothing else may reach it
            raise _fail(where, label, f"{key!r} {value!r} is not a DNS-1123 label (lower case letters, digits, '-')")
    selection = Selection(namespace, name, f"{label} {namespace}/{name}")
    interface = entry.get("interface") or entry.get("interfaceRequest")
    if interface:
        _set_interface(selection, interface, where)
    import ipaddress  # ~6 ms: only for the JSON form's addresses

    if entry.get("ips") is not None:
        selection.ips = _addresses(entry, "ips", "strings", ipaddress.ip_interface, "an IP address or CIDR",
                                  selection, where)
    mac = entry.get("mac")
    if mac:
        if not isinstance(mac, str) or not is_hex_pairs(mac, (6,), ":-"):
            raise _fail(where, selection.item, f"'mac': {mac!r} is not a MAC address")
        selection.mac = mac
    guid = entry.get("infiniband-guid")
    if guid:
        if not isinstance(guid, str) or not is_hex_pairs(guid, (8, 20)):
            raise _fail(where, selection.item, f"'infiniband-guid': {guid!r} is not an InfiniBand GUID")
        selection.infiniband_guid = guid
    for key, kind, attr in (("portMappings", list, "port_mappings"), ("bandwidth", dict, "bandwidth"),
                            ("cni-args", dict, "cni_args")):
        if entry.get(key) is not None:
            if not isinstance(entry[key], kind):
                raise _fail(where, selection.item, f"{key!r} must be a JSON {'list' if kind is list else 'object'}")
            setattr(selection, attr, entry[key])
    if "default-route" in entry:
        selection.default_route = _addresses(entry, "default-route", "gateway addresses", ipaddress.ip_address,
                                             "an IP address", selection, where)
    device = entry.get("deviceID")
    if device:
        if not isinstance(device, str):
            raise _fail(where, selection.item, "'deviceID' must be a string")
        selection.device_id = device
    return selection


def default_network(annotations: dict, multus_namespace: str) -> Selection | None:
    """The pod's replacement for the cluster network, if it names one (exactly one)."""
    value = annotations.get(DEFAULT_NETWORK)
    if not value:
        return None
    selections = parse(value, multus_namespace, DEFAULT_NETWORK)
    if len(selections) != 1:
        raise CniError(INVALID_CONFIG, f"{DEFAULT_NETWORK}: exactly one network may be named, got {len(selections)}")
    return selections[0]


def is_static_pod(annotations: dict) -> bool:
    """A static pod's API object (its mirror) has another UID than the one the kubelet runs."""
    source = annotations.get(CONFIG_SOURCE)
    return bool(annotations.get(CONFIG_MIRROR)) or (source is not None and source != "api")
