"""Running one network (a single config or a conflist) the way libcni does.

Kept apart as libcni keeps them: `RuntimeConf` is *what* is attached (container, netns,
ifname, CNI_ARGS, capability args); `CNIConfig` is *how* plugins are found and run (search
path, base environment, timeout, built-in helpers), so one CNIConfig can serve many requests
(the daemon). `Network` injects the network's name and version, filters `runtimeConfig` by
each plugin's declared capabilities, chains `prevResult` through a list, and reverses the
list for DEL.
"""

from __future__ import annotations

from multus import jsonlite
from multus.cni import invoke
from multus.cni import version as ver
from multus.cni.errors import CniError

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from multus.cni.invoke import ExecObserver


CHROOT = "/usr/sbin/chroot"


class RuntimeConf:
    """Who the network is attached to: libcni's RuntimeConf."""

    __slots__ = ("container_id", "netns", "ifname", "args", "capability_args")

    def __init__(self, container_id: str = "", netns: str = "", ifname: str = "", args: str = "",
                 capability_args: dict | None = None) -> None:
        self.container_id = container_id
        self.netns = netns
        self.ifname = ifname
        self.args = args
        self.capability_args = capability_args or {}


class CNIConfig:
    """How plugins are found and run: libcni's CNIConfig (plus the built-in helpers).

    `root` (the daemon's chrootDir) is the host's root as this process sees it: plugins are
    looked up under it and run chrooted into it, so a containerized daemon runs the host's
    plugins with the host's libraries.
    """

    __slots__ = ("path", "environ", "timeout", "builtins", "root")

    def __init__(self, path: list[str], environ: dict[str, str], timeout: float | None = None,
                 builtins: dict[str, list[str]] | None = None, root: str = "") -> None:
        self.path = path
        self.environ = environ
        self.timeout = timeout
        self.builtins = builtins or {}
        self.root = root.rstrip("/")

    def env(self, command: str, rt: RuntimeConf) -> dict[str, str]:
        env = {k: v for k, v in self.environ.items() if not k.startswith("CNI_")}
        env["CNI_COMMAND"] = command
        env["CNI_PATH"] = ":".join(self.path)
        if command not in ("STATUS", "GC"):
            env.update(CNI_CONTAINERID=rt.container_id, CNI_NETNS=rt.netns, CNI_IFNAME=rt.ifname, CNI_ARGS=rt.args)
        return env

    def command_for(self, plugin: str) -> list[str]:
        """A binary on the path wins; a bundled helper stands in for one that is missing."""
        chroot = [CHROOT, self.root] if self.root else []
        try:
            found = invoke.find_in_path(plugin, [self.root + p for p in self.path])
            return [*chroot, found[len(self.root):]]
        except CniError:
            if plugin in self.builtins:
                return [*chroot, *self.builtins[plugin]]
            raise

    def run(self, plugin: str, stdin: bytes, command: str, rt: RuntimeConf,
            observer: ExecObserver | None = None) -> bytes:
        return invoke.exec_plugin(self.command_for(plugin), stdin, self.env(command, rt), self.timeout, observer,
                                  plugin)


class Network:
    """A delegate's config: `plugins` makes it a conflist, otherwise a single plugin."""

    __slots__ = ("conf", "name", "cni_version", "plugins", "is_list")

    def __init__(self, conf: dict) -> None:
        self.conf = conf
        self.name = conf.get("name", "")
        self.cni_version = ver.of_config(conf)
        self.is_list = "plugins" in conf
        self.plugins: list[dict] = conf["plugins"] if self.is_list else [conf]

    def plugin_stdin(self, plugin: dict, rt: RuntimeConf, prev_result: dict | None,
                     extra: dict | None = None) -> bytes:
        conf = dict(plugin)
        if self.is_list:
            conf["name"] = self.name
            conf["cniVersion"] = self.cni_version
        conf.pop("runtimeConfig", None)
        runtime_config = filter_capabilities(plugin.get("capabilities"), rt.capability_args)
        if runtime_config:
            conf["runtimeConfig"] = runtime_config
        if prev_result is not None:
            conf["prevResult"] = prev_result
        if extra:
            conf.update(extra)
        return jsonlite.dumps(conf, sort_keys=True).encode()

    def _run(self, cni: CNIConfig, plugin: dict, command: str, rt: RuntimeConf, prev: dict | None,
             observer: ExecObserver | None, extra: dict | None = None) -> bytes:
        return cni.run(plugin.get("type", ""), self.plugin_stdin(plugin, rt, prev, extra), command, rt, observer)

    def add(self, cni: CNIConfig, rt: RuntimeConf, observer: ExecObserver | None = None) -> dict:
        prev: dict | None = None
        for plugin in self.plugins:
            out = self._run(cni, plugin, "ADD", rt, prev, observer)
            prev = invoke.decode_result(plugin.get("type", ""), out)
        assert prev is not None
        return prev

    def delete(self, cni: CNIConfig, rt: RuntimeConf, cached: dict | None,
               observer: ExecObserver | None = None) -> None:
        prev = cached if cached is not None and ver.at_least(self.cni_version, "0.4.0") else None
        for plugin in reversed(self.plugins):
            self._run(cni, plugin, "DEL", rt, prev, observer)

    def can_check(self) -> bool:
        return ver.at_least(self.cni_version, "0.4.0") and not self.conf.get("disableCheck")

    def check(self, cni: CNIConfig, rt: RuntimeConf, cached: dict | None,
              observer: ExecObserver | None = None) -> None:
        for plugin in self.plugins:
            self._run(cni, plugin, "CHECK", rt, cached, observer)

    def status(self, cni: CNIConfig) -> None:
        if not ver.at_least(self.cni_version, "1.1.0"):
            return
        for plugin in self.plugins:
            self._run(cni, plugin, "STATUS", RuntimeConf(), None, None)

    def collects_garbage(self) -> bool:
        return ver.at_least(self.cni_version, "1.1.0") and not self.conf.get("disableGC")

    def gc(self, cni: CNIConfig, valid: list[dict]) -> None:
        if not self.collects_garbage():
            return
        extra = {"cni.dev/valid-attachments": valid, "cni.dev/attachments": valid}
        for plugin in self.plugins:
            self._run(cni, plugin, "GC", RuntimeConf(), None, None, extra)


def filter_capabilities(capabilities: object, capability_args: dict) -> dict:
    """Only the runtimeConfig keys a plugin declared, matched case-insensitively.

    Runtimes disagree on spelling (containerd and Podman differ), so `portmappings` from the
    runtime reaches a plugin that declared `portMappings`, under the plugin's spelling.
    """
    if not isinstance(capabilities, dict) or not capability_args:
        return {}
    wanted = {k.lower(): k for k, enabled in capabilities.items() if enabled is True}
    return {wanted[k.lower()]: v for k, v in capability_args.items() if k.lower() in wanted}
