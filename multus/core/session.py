"""One CNI request at the Multus level: which pod it is for, what it resolves to, what is reported.

The plugin's handlers, `multus explain` and the daemon all go through here, so what the
runtime gets and what a human is shown cannot drift apart. The Kubernetes side is loaded only
when the config gives API access; a static-delegates request never imports it.
"""

from __future__ import annotations

from multus.cni import args as cniargs
from multus.cni.errors import UNKNOWN_CONTAINER, CniError
from multus.core.resolve import PodInfo, Resolver

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from multus.cni.env import CmdArgs
    from multus.core.delegate import Delegate
    from multus.core.kube import Kube
    from multus.core.log import Logger
    from multus.core.netconf import NetConf

RUNTIME_ANNOTATIONS = "io.kubernetes.cri.pod-annotations"
# DEL without state asks the API once, briefly: a DEL must not hang on an API server that is away.
DEL_API_TIMEOUT = 2.0
STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"


class Session:
    def __init__(self, netconf: NetConf, cmd: CmdArgs, log: Logger, kube: Kube | None = None,
                 account_dir: str | None = None, events: bool = True) -> None:
        self.netconf = netconf
        self.events = events
        self.cmd = cmd
        self.log = log
        self._kube = kube
        self._kube_loaded = kube is not None
        self.account_dir = account_dir
        self.pod_obj: dict | None = None
        self.pod: PodInfo | None = None
        strict = cmd.command not in ("DEL", "GC", "STATUS")
        self.k8s = {k: v for k, v in cniargs.parse(cmd.args, strict=strict) if k.startswith("K8S_POD_")}
        self.request_args = cniargs.for_delegates(cmd.args, strict=strict)

    # --- the API, when there is one ---------------------------------------------------------
    @property
    def has_api(self) -> bool:
        return bool(self.netconf.kubeconfig or self.cmd.environ.get("KUBERNETES_SERVICE_HOST") or self._kube)

    @property
    def kube(self) -> Kube | None:
        if not self._kube_loaded:
            self._kube_loaded = True
            if self.has_api:
                from multus.core import kube

                kwargs = {"account_dir": self.account_dir} if self.account_dir else {}
                creds = kube.credentials(self.netconf, self.cmd.environ, **kwargs)
                self._kube = kube.Kube.connect(creds, self.netconf, self.log) if creds else None
        return self._kube

    def close(self) -> None:
        if self._kube is not None:
            self._kube.close()

    @property
    def pod_key(self) -> tuple[str, str] | None:
        ns, name = self.k8s.get("K8S_POD_NAMESPACE", ""), self.k8s.get("K8S_POD_NAME", "")
        return (ns, name) if ns and name else None

    def _nad_lookup(self, kube: Kube):
        def lookup(namespace: str, name: str) -> dict:
            try:
                return kube.nad(namespace, name)
            except CniError as exc:
                if getattr(exc, "status", None) == 404 and self.pod_obj is not None and self.events:
                    kube.event(self.pod_obj, "NoNetworkFound", exc.msg, "Warning")
                raise
        return lookup

    def resolver(self, use_api: bool = True, ifname: str | None = None) -> Resolver:
        kube = self.kube if use_api else None
        return Resolver(self.netconf, self.request_args, self.cmd.ifname if ifname is None else ifname,
                        self.cmd.container_id, self._nad_lookup(kube) if kube is not None else None, self._devices)

    def _devices(self) -> dict[str, list[str]]:
        from multus.k8s.devices import allocated

        uid = (self.pod.uid if self.pod else "") or self.k8s.get("K8S_POD_UID", "")
        if not uid:
            raise CniError(UNKNOWN_CONTAINER, "a network with a resourceName needs the pod's UID (K8S_POD_UID or the "
                                              "API) to find its devices")
        return allocated(self.netconf.kubelet_checkpoint, uid)

    # --- which pod --------------------------------------------------------------------------
    def find_pod(self, wait: float | None = None, timeout: float | None = None) -> bool:
        """Set `pod` (and `pod_obj` from the API). False: the API says the pod does not exist."""
        key = self.pod_key
        if key is None:
            return True
        ns, name = key
        runtime_annotations = self._runtime_annotations()
        kube = self.kube
        if kube is not None:
            obj = kube.get_pod(ns, name, wait=wait, timeout=timeout, uid=self.k8s.get("K8S_POD_UID", ""))
            if obj is None:
                return False
            meta = obj.get("metadata") or {}
            self._check_uid(meta)
            self.pod_obj = obj
            annotations = runtime_annotations if runtime_annotations is not None else (meta.get("annotations") or {})
            self.pod = PodInfo(ns, name, str(meta.get("uid", "")), annotations, obj)
        elif runtime_annotations is not None:
            self.pod = PodInfo(ns, name, self.k8s.get("K8S_POD_UID", ""), runtime_annotations)
        return True

    def _runtime_annotations(self) -> dict | None:
        """containerd's copy of the pod's annotations, used only when the operator asked for it."""
        if not self.netconf.annotations_from_runtime:
            return None
        value = self.netconf.runtime_config.get(RUNTIME_ANNOTATIONS)
        return value if isinstance(value, dict) else None

    def _check_uid(self, meta: dict) -> None:
        from multus.k8s.annotations import is_static_pod

        wanted, actual = self.k8s.get("K8S_POD_UID", ""), str(meta.get("uid", ""))
        if wanted and actual and wanted != actual and not is_static_pod(meta.get("annotations") or {}):
            raise CniError(UNKNOWN_CONTAINER, f"pod {meta.get('namespace')}/{meta.get('name')}: expected pod UID "
                                              f"{wanted!r} but got {actual!r} from Kube API: the pod was recreated")

    # --- what each command resolves -----------------------------------------------------------
    def for_add(self) -> list[Delegate]:
        found = self.find_pod()
        if not found:
            ns, name = self.pod_key or ("", "")
            # Upstream answers with a placeholder result and no interface, which leaves a static pod
            # without any network: attach the cluster network instead (docs/decisions.md).
            self.log.error(f"pod {ns}/{name} not found in the API: attaching the cluster network only")
        return self.resolver().resolve(self.pod, cluster_only=not found)

    def for_del_without_state(self) -> list[Delegate]:
        """Never fails because the API is away: the pod's networks if it answers quickly, else the cluster network."""
        if self.has_api and self.pod_key is not None:
            try:
                if self.find_pod(wait=0, timeout=DEL_API_TIMEOUT):
                    return self.resolver().resolve(self.pod, cluster_only=self.pod is None)
            except CniError as exc:
                self.log.error(f"DEL without state: cannot resolve the pod's networks ({exc.msg}); deleting the "
                               f"cluster network only")
            self.pod = None
        return self.cluster_network(self.cmd.ifname)

    def cluster_network(self, ifname: str) -> list[Delegate]:
        """The network's own delegates, without any pod (STATUS, GC, a DEL that knows no pod)."""
        def resolve(use_api: bool) -> list[Delegate]:
            return self.resolver(use_api, ifname).resolve(None, cluster_only=True)

        if self.has_api and self.netconf.cluster_network and "/" not in self.netconf.cluster_network:
            try:
                return resolve(True)
            except CniError as exc:
                if self.cmd.command != "DEL":
                    raise
                self.log.error(f"cannot look up clusterNetwork in the API ({exc.msg}); trying {self.netconf.conf_dir}")
        try:
            return resolve(False)
        except CniError as exc:
            if self.cmd.command != "DEL":
                raise
            self.log.error(f"DEL: the cluster network cannot be resolved ({exc.msg}): nothing to delete")
            return []

    # --- after a successful ADD ---------------------------------------------------------------
    @property
    def reports(self) -> bool:
        """Whether `report` has anything to do: a pod to write network-status to (or to say why not)."""
        return self.pod is not None

    def report(self, delegates: list[Delegate]) -> None:
        """network-status (the write must succeed, or the ADD fails) and events (best effort)."""
        kube, pod = self.kube, self.pod_obj
        if pod is None or kube is None:
            if self.pod is not None:
                self.log.verbose(f"pod {self.pod.key}: no API access, network-status not written")
            return
        from multus import jsonlite
        from multus.k8s import netstatus

        entries = []
        for d in delegates:
            entries += netstatus.entries(d.name, d.ifname, d.result, d.network.cni_version, d.master,
                                         _device_info(d.devinfo))
        if entries:
            kube.write_status(pod, jsonlite.dumps_indented(entries), STATUS_ANNOTATION)
        for d in delegates:
            if d.result:
                kube.event(pod, "AddedInterface", netstatus.event_message(d.ifname, d.result, d.network.cni_version,
                                                                          d.name))


def _device_info(path: str) -> dict | None:
    if not path:
        return None
    from multus import jsonlite

    try:
        with open(path, "rb") as f:
            info = jsonlite.loads(f.read())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None
