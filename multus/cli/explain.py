"""`multus validate`: the config as Multus understands it, for a human."""

from __future__ import annotations

from multus.cni import version as ver
from multus.cni.errors import CniError
from multus.cni.invoke import find_in_path
from multus.cni.skel import decode_config
from multus.core.resolve import static_delegates
from multus.core.netconf import load
from multus.helpers import NAMES


def _plugin_types(conf: dict) -> list[str]:
    return [p["type"] for p in conf["plugins"]] if "plugins" in conf else [conf["type"]]


def _multus_plugin(raw: dict) -> dict:
    """A runtime's conflist whose plugin is multus: check that plugin as the runtime would send it."""
    plugins = raw.get("plugins")
    if not isinstance(plugins, list):
        return raw
    for plugin in plugins:
        if isinstance(plugin, dict) and plugin.get("type") == "multus":
            return dict(plugin, name=raw.get("name"), cniVersion=raw.get("cniVersion"))
    return raw


def explain(data: bytes, source: str, cni_path: list[str], ifname: str) -> tuple[str, bool]:
    try:
        raw = _multus_plugin(decode_config(data))
        ver.require_supported(ver.of_config(raw))
        netconf = load(raw)
    except CniError as exc:
        return f"{source}: invalid (CNI error {exc.code}): {exc}", False
    path = netconf.plugin_path + cni_path
    lines = [f"{source}: valid",
             f"  network {netconf.name!r}, cniVersion {netconf.cni_version} (the result is converted to it)",
             f"  state in {netconf.cni_dir}, plugins searched in {':'.join(path)}",
             "  delegates, in execution order:"]
    ok = True
    for d in static_delegates(netconf, ifname):
        role = "master" if d.master else "      "
        renamed = f", renamed {d.conf['if0name']} by sriov" if d.conf.get("if0name") else ""
        lines.append(f"    {d.ifname:<6} {role} {d.source} {d.label}, cniVersion {d.conf['cniVersion']}{renamed}")
        for plugin in _plugin_types(d.conf):
            try:
                where = find_in_path(plugin, path)
            except CniError:
                if plugin in NAMES:
                    where = "built-in helper (no binary on the path)"
                else:
                    where, ok = "NOT FOUND", False
            lines.append(f"             plugin {plugin}: {where}")
    if not ok:
        lines.append("  some plugins are missing: ADD would fail")
    return "\n".join(lines), ok
