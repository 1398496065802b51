"""What the daemon does with each request: the thin plugin's own handlers, fed from the daemon.

`/cni` carries the runtime's environment and the shim's stdin (upstream's body); the daemon
lays its config over the request's, runs the same MultusPlugin handlers in-process with its
cached Kubernetes side, and answers the CNI result (200) or the CNI error (400). Each request
has its own logger, its own plugin object and its own state; nothing it does reaches another.
`/delegate` is upstream's single-network hot-plug API: one network into (or out of) a running pod.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import sys
import threading
import time

from multus.cni import skel
from multus.cni.env import CmdArgs
from multus.cni.errors import DECODE, TRY_AGAIN_LATER, CniError, internal_error
from multus.cni.runtime import CNIConfig
from multus.core import netconf as netconf_mod
from multus.core.attach import Attacher
from multus.core.log import Logger
from multus.core.plugin import MultusPlugin
from multus.core.resolve import MASTER_ONLY_ARGS, Resolver, merge_cni_args, request_addresses
from multus.daemon.kubecache import CachedKube, ClientPool, EventSender
from multus.daemon.metrics import Metrics
from multus.helpers import builtin_commands

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from multus.core.kube import Kube
    from multus.core.netconf import NetConf
    from multus.daemon.config import DaemonConfig
    from multus.daemon.informer import Informer
    from multus.k8s.kubeconfig import Credentials

# Events wait for this long without a request in flight (at most EventSender.IDLE_WAIT).
QUIET_SETTLE = 0.05

# A hot-plug request names its one network itself; these daemon keys would add the node's networks.
NETWORK_CHOICE_KEYS = ("clusterNetwork", "defaultNetworks", "delegates")

class Answer:
    __slots__ = ("status", "body")

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body


def _error(code: int, msg: str, version: str = "1.0.0") -> bytes:
    return json.dumps(CniError(code, msg).to_dict(version)).encode()


class Daemon:
    def __init__(self, config: DaemonConfig, creds: Credentials | None, node: str, log: Logger,
                 self_command: list[str]) -> None:
        self.config = config
        self.creds = creds
        self.node = node
        self.log = log
        self.self_command = self_command
        self.metrics = Metrics()
        self.stopping = threading.Event()
        self.inflight = 0
        self.inflight_lock = threading.Condition()
        self.last_left = 0.0  # time.monotonic() when the last request's answer was written
        self.pods: Informer | None = None
        self.nads: Informer | None = None
        self.pool: ClientPool | None = None
        self.events: EventSender | None = None
        limit = config.connection_limit
        self.slots = threading.BoundedSemaphore(limit) if limit else None

    # --- caches -----------------------------------------------------------------------------
    def start_caches(self) -> None:
        if self.creds is None:
            return
        from multus.daemon.informer import Informer, trim_nad, trim_pod

        self.pool = ClientPool(self.creds, 10.0)
        self.events = EventSender(self.pool, self.log, wait_idle=self.wait_quiet)
        selector = f"spec.nodeName={self.node}" if self.node else ""
        self.pods = Informer("pods", self.creds, "/api/v1/pods", self.log, trim_pod, selector)
        self.nads = Informer("network-attachment-definitions", self.creds,
                             "/apis/k8s.cni.cncf.io/v1/network-attachment-definitions", self.log, trim_nad)
        self.pods.start()
        self.nads.start()

    def stop_caches(self) -> None:
        for informer in (self.pods, self.nads):
            if informer is not None:
                informer.stop()
        if self.events is not None:
            self.events.stop()
        if self.pool is not None:
            self.pool.close()

    @property
    def ready(self) -> bool:
        synced = all(i is None or i.synced.is_set() for i in (self.pods, self.nads))
        return synced and not self.stopping.is_set()

    def kube_for(self, netconf: NetConf, log: Logger) -> Kube | None:
        if self.pool is None or self.events is None:
            return None
        return CachedKube(self.pool, self.pods, self.nads, self.events, netconf, log)

    def cni_for(self, netconf: NetConf, cmd: CmdArgs) -> CNIConfig:
        """Chrooted into the host (chrootDir), the built-in helpers are the host's installed copy of this file."""
        helper = [os.path.join(netconf.bin_dir, "multus")] if self.config.chroot_dir else self.self_command
        return CNIConfig(netconf.plugin_path + cmd.path, cmd.environ, netconf.delegate_timeout,
                         builtin_commands(helper), self.config.chroot_dir)

    # --- requests ---------------------------------------------------------------------------
    def _enter(self) -> bool:
        with self.inflight_lock:
            if self.stopping.is_set():
                return False
            self.inflight += 1
            return True

    def _leave(self) -> None:
        with self.inflight_lock:
            self.inflight -= 1
            self.last_left = time.monotonic()
            self.inflight_lock.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait for in-flight requests (bounded); True when none is left."""
        deadline = time.monotonic() + timeout
        with self.inflight_lock:
            while self.inflight and time.monotonic() < deadline:
                self.inflight_lock.wait(deadline - time.monotonic())
            return self.inflight == 0

    def wait_quiet(self, timeout: float, settle: float = QUIET_SETTLE) -> bool:
        """Wait (bounded) until no request has been in flight for `settle` seconds; True when so.

        Right after an answer is written the runtime is still busy with it (the shim exits, the
        runtime goes on with the sandbox): background work that starts at once competes with it.
        """
        deadline = time.monotonic() + timeout
        with self.inflight_lock:
            while True:
                now = time.monotonic()
                calm_at = self.last_left + settle
                if not self.inflight and now >= calm_at:
                    return True
                if now >= deadline:
                    return False
                until = deadline if self.inflight else min(deadline, calm_at)
                self.inflight_lock.wait(until - now)

    def handle(self, handler: str, body: bytes, raw_result: bool, respond: Callable[[Answer], None]) -> None:
        """One request on `/cni` or `/delegate`, guarded: nothing in it can take the daemon down.

        It counts as in flight until `respond` has sent its answer: SIGTERM drains whole answers,
        and the event sender, which waits until no request has been in flight for QUIET_SETTLE, leaves
        the answer's write alone.
        """
        if not self.ready or not self._enter():
            why = "stopping" if self.stopping.is_set() else "waiting for its caches to sync"
            respond(Answer(503, _error(TRY_AGAIN_LATER, f"multus daemon is {why}")))
            return
        started = time.monotonic()
        command, outcome = "?", "error"
        try:
            if self.slots is not None:
                self.slots.acquire()
            try:
                command, answer = self._answer(handler, body, raw_result)
            finally:
                if self.slots is not None:
                    self.slots.release()
            outcome = "ok" if answer.status == 200 else "error"
            respond(answer)
        finally:
            self.metrics.observe(handler, command, outcome, time.monotonic() - started)
            self._leave()

    def _answer(self, handler: str, body: bytes, raw_result: bool) -> tuple[str, Answer]:
        """The request's CNI command and its answer; every failure is an answer too."""
        command = "?"
        try:
            request = json.loads(body)
            if not isinstance(request, dict) or not isinstance(request.get("env"), dict):
                raise ValueError("expected {\"env\": {...}, \"config\": \"<base64>\"}")
            env = {str(k): str(v) for k, v in request["env"].items()}
            command = env.get("CNI_COMMAND", "?")
            config = base64.b64decode(request.get("config") or b"", validate=False)
            answer = self._delegate(env, config, request) if handler == "delegate" else self._cni(env, config)
            if answer.status == 200 and not raw_result:
                answer.body = b'{"Result":' + (answer.body.strip() or b"null") + b"}"
            return command, answer
        except (ValueError, binascii.Error) as exc:
            return command, Answer(400, _error(DECODE, f"bad daemon request: {exc}"))
        except Exception as exc:  # a request's bug must never kill the daemon
            error = internal_error(exc)
            self.log.error(f"{handler} {command}: {error}")
            return command, Answer(400, _error(error.code, error.msg))

    def _cni(self, env: dict[str, str], config: bytes) -> Answer:
        try:
            conf = json.loads(config)
        except ValueError:
            conf = None
        stdin = json.dumps(self.config.overlay(conf)).encode() if isinstance(conf, dict) else config
        stderr = sys.stderr if self.config.log_to_stderr else io.StringIO()
        plugin = MultusPlugin(stderr, None, self.self_command, kube=self.kube_for, cni=self.cni_for)
        out = io.BytesIO()
        code = skel.dispatch(plugin.handlers(), env, stdin, out, plugin.crashed)
        return Answer(200 if code == 0 else 400, out.getvalue())

    def _delegate(self, env: dict[str, str], config: bytes, request: dict) -> Answer:
        """One network into a running pod (or out of it), as its own attachment on CNI_IFNAME."""
        out = io.BytesIO()
        stderr = sys.stderr if self.config.log_to_stderr else io.StringIO()
        attributes = request.get("interfaceAttributes") or {}

        def run(cmd: CmdArgs, conf: dict) -> dict | None:
            multus = self.config.overlay({"cniVersion": conf.get("cniVersion", "1.0.0"), "name": "multus-delegate",
                                          "type": "multus"})
            for key in NETWORK_CHOICE_KEYS:  # the daemon's own choice of networks is not this request's
                multus.pop(key, None)
            multus["delegates"] = [conf]
            netconf = netconf_mod.load(multus)
            log = Logger(netconf.log_level, netconf.log_file, stderr, f"[{cmd.container_id[:12]}/{cmd.ifname}] ")
            delegate = Resolver(netconf, "", cmd.ifname, cmd.container_id).resolve(None)[0]
            _apply_attributes(delegate, attributes, cmd.args)
            attacher = Attacher(netconf, cmd, log, self.cni_for(netconf, cmd))
            if cmd.command == "ADD":
                return attacher.add([delegate])
            if cmd.command == "DEL":
                attacher.delete(lambda: [delegate])
            elif cmd.command == "CHECK":
                attacher.check()
            elif cmd.command == "STATUS":
                delegate.network.status(attacher.cni)
            return None

        handlers: dict[str, skel.Handler] = {c: run for c in ("ADD", "DEL", "CHECK", "STATUS")}
        code = skel.dispatch(handlers, env, config, out)
        return Answer(200 if code == 0 else 400, out.getvalue())

    # --- health -----------------------------------------------------------------------------
    def gauges(self) -> dict:
        sizes = {(("resource", i.name),): float(len(i)) for i in (self.pods, self.nads) if i is not None}
        api = float(self.pool.calls if self.pool else 0) + sum(i.requests for i in (self.pods, self.nads) if i)
        return {"multus_cache_objects": ("Objects in the daemon's watch-fed caches.", sizes),
                "multus_api_requests_total": ("Requests the daemon made to the API server.", {(): api}),
                "multus_inflight_requests": ("CNI requests being served.", {(): float(self.inflight)}),
                "multus_ready": ("1 when caches are synced and the daemon is not stopping.",
                                 {(): 1.0 if self.ready else 0.0})}


def _apply_attributes(delegate, attributes: dict, args: str) -> None:
    """Upstream's interfaceAttributes: ips, mac, cni-args for the hot-plugged network."""
    from multus.cni import args as cniargs

    delegate.args = cniargs.for_delegates(cniargs.without(args, MASTER_ONLY_ARGS), strict=False)
    request_addresses(delegate, [str(ip) for ip in attributes.get("ips") or []], attributes.get("mac") or "")
    cni_args = attributes.get("cni-args") or attributes.get("cniArgs")
    if isinstance(cni_args, dict):
        merge_cni_args(delegate, cni_args, delegate.name)


def node_name(environ: dict[str, str]) -> str:
    return environ.get("MULTUS_NODE_NAME", "") or os.uname().nodename
