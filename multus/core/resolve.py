"""Resolution: which delegates one request attaches, in which order, with which per-network settings.

Sources, in order (multus-behaviour.md §3): the master (the pod's default-network annotation,
else `clusterNetwork`, else the static master), then the other static delegates (without
`clusterNetwork`), then `defaultNetworks` (not for pods in `systemNamespaces`), then the pod's
`networks` annotation. Everything a delegate needs is fixed here, before the container lock
and before any delegate runs, so every error in a pod's request (a missing NAD, a malformed
annotation, an isolation violation, ECMP, a device that is not there) stops the ADD while
nothing is attached yet.
"""

from __future__ import annotations

from multus.cni import args as cniargs
from multus.cni.errors import INVALID_CONFIG, CniError
from multus.core.delegate import Delegate, assign_ifnames, prepare_conf
from multus.core.netconf import check_delegate

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from multus.core.netconf import NetConf
    from multus.k8s.annotations import Selection

    NadLookup = Callable[[str, str], dict]
    DeviceLoader = Callable[[], "dict[str, list[str]]"]

# The runtime's address and MAC requests (CNI_ARGS IP=/MAC=, runtimeConfig ips/mac) are for the
# interface it asked for, the master's: a secondary on another subnet would fail on them.
MASTER_ONLY_ARGS = ("IP", "MAC")
MASTER_ONLY_CAPABILITIES = ("ips", "mac")
DEVICE_INFO_CAPABILITY = "CNIDeviceInfoFile"


class PodInfo:
    """The pod a request is for, as far as it is known: from the API, or from the runtime's annotations."""

    __slots__ = ("namespace", "name", "uid", "annotations", "obj")

    def __init__(self, namespace: str, name: str, uid: str = "", annotations: dict | None = None,
                 obj: dict | None = None) -> None:
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.annotations = annotations or {}
        self.obj = obj

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _fail(msg: str) -> CniError:
    return CniError(INVALID_CONFIG, msg)


class Resolver:
    """Builds the delegate list of one request. `nads` fetches a NAD (None: no API access)."""

    def __init__(self, netconf: NetConf, request_args: str, runtime_ifname: str, container_id: str,
                 nads: NadLookup | None = None, devices: DeviceLoader | None = None) -> None:
        self.netconf = netconf
        self.primary_args = request_args
        self.secondary_args = cniargs.without(request_args, MASTER_ONLY_ARGS)
        self.secondary_config = {k: v for k, v in netconf.runtime_config.items()
                                 if k.lower() not in MASTER_ONLY_CAPABILITIES}
        self.runtime_ifname = runtime_ifname
        self.container_id = container_id
        self.nads = nads
        self.devices = devices
        self._allocated: dict[str, list[str]] | None = None
        self._taken_devices: dict[str, int] = {}

    # --- one network config from wherever it is named ------------------------------------
    def _static(self, index: int, master: bool) -> Delegate:
        netconf = self.netconf
        conf = prepare_conf(netconf.delegates[index], netconf.name, netconf.cni_version)
        return self._delegate(conf.get("name", netconf.name), f"delegates[{index}]", master, conf)

    def _delegate(self, name: str, source: str, master: bool, conf: dict) -> Delegate:
        if master:
            return Delegate(name, source, True, conf, self.primary_args, dict(self.netconf.runtime_config))
        return Delegate(name, source, False, conf, self.secondary_args, dict(self.secondary_config))

    def reference(self, value: str, source: str, master: bool) -> Delegate:
        """`clusterNetwork` / `defaultNetworks` entries: a path (with '/'), else a NAD in
        multusNamespace, else the config of that name in confDir (§3.2)."""
        netconf = self.netconf
        from multus.cni import conffiles

        conf: dict | None
        if "/" in value:
            conf = conffiles.load_path(value)
            name = conf.get("name") or value
        else:
            conf, name = None, value
            if self.nads is not None:
                try:
                    nad = self.nads(netconf.multus_namespace, value)
                except CniError as exc:
                    if getattr(exc, "status", None) != 404:
                        raise
                else:
                    from multus.k8s.nad import config_of

                    conf, name = config_of(nad, netconf.conf_dir), f"{netconf.multus_namespace}/{value}"
            if conf is None:
                conf = conffiles.find_by_name(netconf.conf_dir, value)
            if conf is None:
                where = "the API and " if self.nads is not None else ""
                raise _fail(f"{source}: no network {value!r} in {where}{netconf.conf_dir}")
        assert conf is not None
        check_delegate(conf, source)
        return self._delegate(name, source, master, prepare_conf(conf, netconf.name, netconf.cni_version))

    def selected(self, selection: Selection, source: str, master: bool) -> Delegate:
        """A network a pod named: its NAD (or, without API access, the confDir config of that name)."""
        netconf = self.netconf
        from multus.cni import conffiles

        resource = ""
        if self.nads is None:
            conf = conffiles.find_by_name(netconf.conf_dir, selection.name)
            if conf is None:
                raise _fail(f"{source}: item {selection.item!r}: no network named {selection.name!r} in "
                            f"{netconf.conf_dir} (no API access to look up a NetworkAttachmentDefinition)")
        else:
            from multus.k8s.nad import config_of, resource_name

            nad = self.nads(selection.namespace, selection.name)
            conf, resource = config_of(nad, netconf.conf_dir), resource_name(nad)
        check_delegate(conf, f"network {selection.key}")
        self._check_allowed(conf, selection)
        conf = prepare_conf(conf, netconf.name, netconf.cni_version)
        delegate = self._delegate(selection.key, source, master, conf)
        delegate.requested_ifname = selection.interface
        if not master:
            self._apply_requests(delegate, selection)
        self._attach_device(delegate, selection, resource)
        return delegate

    def _check_allowed(self, conf: dict, selection: Selection) -> None:
        """The NAD trust boundary: tenants' NADs may only run the plugin types the operator allows."""
        allowed = self.netconf.nad_allowed_types
        if allowed is None:
            return
        for plugin in conf.get("plugins", [conf]):
            for kind, where in ((plugin.get("type"), "type"), ((plugin.get("ipam") or {}).get("type"), "ipam.type")):
                if kind and kind not in allowed:
                    raise _fail(f"network {selection.key}: plugin {where} {kind!r} is not in nadAllowedPlugins "
                                f"{allowed}")

    def _apply_requests(self, delegate: Delegate, selection: Selection) -> None:
        """The pod's per-network requests (§9): capability args, CNI_ARGS IP=/MAC=, cni-args."""
        caps = delegate.runtime_config
        if selection.port_mappings is not None:
            caps["portMappings"] = selection.port_mappings
        if selection.bandwidth is not None:
            caps["bandwidth"] = selection.bandwidth
        if selection.infiniband_guid:
            caps["infinibandGUID"] = selection.infiniband_guid
        request_addresses(delegate, selection.ips, selection.mac)
        if selection.cni_args:
            merge_cni_args(delegate, selection.cni_args, selection.key)
        delegate.gateways = selection.default_route

    def _attach_device(self, delegate: Delegate, selection: Selection, resource: str) -> None:
        """A NAD with a resourceName takes the next of the pod's sorted device IDs of that resource (§6)."""
        device = ""
        if resource:
            if self._allocated is None:
                if self.devices is None:
                    raise _fail(f"network {selection.key}: resource {resource!r} needs the pod's devices, and this "
                                f"request has no pod UID to look them up")
                self._allocated = self.devices()
            ids = self._allocated.get(resource, [])
            used = self._taken_devices.get(resource, 0)
            if used >= len(ids):
                raise _fail(f"network {selection.key}: the pod has no{' more' if used else ''} device of resource "
                            f"{resource!r} allocated ({len(ids)} in the kubelet's checkpoint)")
            device = ids[used]
            self._taken_devices[resource] = used + 1
        elif selection.device_id:
            device = selection.device_id
        if not device:
            return
        for plugin in delegate.conf.get("plugins", [delegate.conf]):
            plugin["deviceID"] = device
            plugin["pciBusID"] = device
        delegate.device_id, delegate.resource = device, resource
        if not delegate.master:
            delegate.runtime_config["deviceID"] = device

    # --- the whole list -------------------------------------------------------------------
    def resolve(self, pod: PodInfo | None, cluster_only: bool = False) -> list[Delegate]:
        netconf = self.netconf
        from_pod = pod is not None and not cluster_only
        delegates: list[Delegate] = []
        override = self._default_network(pod) if pod is not None and from_pod else None
        if override is not None:
            delegates.append(override)
        elif netconf.cluster_network:
            delegates.append(self.reference(netconf.cluster_network, "clusterNetwork", True))
        else:
            delegates.append(self._static(netconf.master_index, True))
        if not netconf.cluster_network:
            delegates += [self._static(i, False) for i in range(len(netconf.delegates)) if i != netconf.master_index]
        elif not cluster_only and pod is not None and pod.namespace not in netconf.system_namespaces:
            delegates += [self.reference(v, f"defaultNetworks[{i}]", False)
                          for i, v in enumerate(netconf.default_networks)]
        if from_pod:
            assert pod is not None
            delegates += self._annotated(pod)
        self._plan_default_routes(delegates)
        place(delegates, self.runtime_ifname, (), self.netconf.devinfo_dir, self.container_id)
        return delegates

    def _default_network(self, pod: PodInfo) -> Delegate | None:
        from multus.k8s import annotations

        selection = annotations.default_network(pod.annotations, self.netconf.multus_namespace)
        if selection is None:
            return None
        return self.selected(selection, annotations.DEFAULT_NETWORK, True)

    def _annotated(self, pod: PodInfo) -> list[Delegate]:
        from multus.k8s import annotations

        value = pod.annotations.get(annotations.NETWORKS)
        if not value:
            return []
        out = []
        for i, selection in enumerate(annotations.parse(value, pod.namespace)):
            if self.netconf.namespace_isolation and selection.namespace != pod.namespace and \
                    selection.namespace not in self.netconf.global_namespaces:
                raise _fail(f"pod {pod.key}: {annotations.NETWORKS} item {selection.item!r}: namespace isolation "
                            f"is on: a pod in namespace {pod.namespace!r} may not use networks of namespace "
                            f"{selection.namespace!r} (allowed: its own and {self.netconf.global_namespaces})")
            out.append(self.selected(selection, f"{annotations.NETWORKS}[{i}]", False))
        return out

    @staticmethod
    def _plan_default_routes(delegates: list[Delegate]) -> None:
        """`default-route` (§10): at most one gateway per family over the pod; the family's other
        default routes go. Upstream bugs fixed: an empty list changes nothing (Q3), only the
        families a gateway was asked for are touched (Q4)."""
        by_family: dict[str, Delegate] = {}
        for delegate in delegates:
            for gateway in delegate.gateways or []:
                family = "6" if ":" in gateway else "4"
                if family in by_family:
                    raise _fail(f"default-route: more than one IPv{family} gateway asked for ({delegate.name} and "
                                f"{by_family[family].name}); multus does not support ECMP default routes")
                by_family[family] = delegate
        for delegate in delegates:
            delegate.filter_families = sorted(by_family)


def request_addresses(delegate: Delegate, ips: list[str], mac: str) -> None:
    """A network's own addresses and MAC, both ways plugins read them: capability args and CNI_ARGS IP=/MAC=."""
    if ips:
        delegate.runtime_config["ips"] = ips
    if mac:
        delegate.runtime_config["mac"] = mac
    extra = [("MAC", mac)] if mac else []
    if ips:
        extra.append(("IP", ",".join(ips)))
    if extra:
        delegate.args = cniargs.format_pairs(cniargs.parse(delegate.args, strict=False) + extra)


def merge_cni_args(delegate: Delegate, cni_args: dict, label: str) -> None:
    """`cni-args` into each plugin's `args.cni` (upstream's merge: the request's keys win)."""
    for plugin in delegate.conf.get("plugins", [delegate.conf]):
        args = plugin.setdefault("args", {})
        if not isinstance(args, dict):
            raise _fail(f"network {label}: its config's 'args' is not an object")
        cni = args.setdefault("cni", {})
        if not isinstance(cni, dict):
            raise _fail(f"network {label}: its config's 'args.cni' is not an object")
        cni.update(cni_args)


def static_delegates(netconf: NetConf, runtime_ifname: str, request_args: str = "") -> list[Delegate]:
    """The static list alone (no API, no pod): what STATUS, GC and a DEL without state fall back to."""
    return Resolver(netconf, request_args, runtime_ifname, "").resolve(None, cluster_only=True)


def place(delegates: list[Delegate], runtime_ifname: str, taken: Iterable[str], devinfo_dir: str,
          container_id: str) -> None:
    """Final interface names (skipping `taken`, known only under the container lock), checked,
    and the device-info file paths that depend on them."""
    from multus.cni.env import check_ifname

    assign_ifnames(delegates, runtime_ifname, taken)
    seen: dict[str, str] = {}
    for delegate in delegates:
        problem = check_ifname(delegate.ifname)
        if problem:
            raise _fail(f"network {delegate.name}: {problem}")
        if delegate.ifname in seen:
            raise _fail(f"networks {seen[delegate.ifname]} and {delegate.name} both want interface {delegate.ifname}")
        seen[delegate.ifname] = delegate.name
        if delegate.device_id:
            from multus.k8s.devices import cni_devinfo_path

            delegate.devinfo = cni_devinfo_path(devinfo_dir, delegate.name, container_id, delegate.ifname)
            if not delegate.master:
                delegate.runtime_config[DEVICE_INFO_CAPABILITY] = delegate.devinfo
