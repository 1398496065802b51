"""`multus validate` and `multus explain`: the config, and what an ADD would attach, for a human.

Both resolve through the very code the runtime's ADD runs (core.session), so what is shown
is what would happen; neither touches a namespace or runs a plugin.
"""

from __future__ import annotations

import json
import os
import sys

from multus.cni import version as ver
from multus.cni.env import CmdArgs
from multus.cni.errors import CniError
from multus.cni.invoke import find_in_path
from multus.cni.skel import decode_config
from multus.core.log import Logger, redact
from multus.core.netconf import NetConf, load
from multus.core.resolve import static_delegates
from multus.core.session import Session
from multus.helpers import NAMES


def _plugin_types(conf: dict) -> list[str]:
    return [p["type"] for p in conf["plugins"]] if "plugins" in conf else [conf["type"]]


def _multus_plugin(raw: dict) -> dict:
    """A runtime's conflist whose plugin is multus: check that plugin as the runtime would send it."""
    plugins = raw.get("plugins")
    if not isinstance(plugins, list):
        return raw
    for plugin in plugins:
        if isinstance(plugin, dict) and plugin.get("type") in ("multus", "multus-shim"):
            return dict(plugin, name=raw.get("name"), cniVersion=raw.get("cniVersion"))
    return raw


def load_config(data: bytes) -> NetConf:
    raw = _multus_plugin(decode_config(data))
    ver.require_supported(ver.of_config(raw))
    return load(raw)


def _where(plugin: str, path: list[str]) -> tuple[str, bool]:
    try:
        return find_in_path(plugin, path), True
    except CniError:
        if plugin in NAMES:
            return "built-in helper (no binary on the path)", True
        return "NOT FOUND", False


def explain(data: bytes, source: str, cni_path: list[str], ifname: str) -> tuple[str, bool]:
    try:
        netconf = load_config(data)
        delegates = static_delegates(netconf, ifname)
    except CniError as exc:
        return f"{source}: invalid (CNI error {exc.code}): {exc}", False
    path = netconf.plugin_path + cni_path
    lines = [f"{source}: valid",
             f"  network {netconf.name!r}, cniVersion {netconf.cni_version} (the result is converted to it)",
             f"  state in {netconf.cni_dir}, plugins searched in {':'.join(path)}",
             "  delegates, in execution order:"]
    ok = True
    for d in delegates:
        role = "master" if d.master else "      "
        renamed = f", renamed {d.conf['if0name']} by sriov" if d.conf.get("if0name") else ""
        lines.append(f"    {d.ifname:<6} {role} {d.source} {d.label}, cniVersion {d.conf['cniVersion']}{renamed}")
        for plugin in _plugin_types(d.conf):
            where, found = _where(plugin, path)
            ok = ok and found
            lines.append(f"             plugin {plugin}: {where}")
    if not ok:
        lines.append("  some plugins are missing: ADD would fail")
    return "\n".join(lines), ok


def explain_pod(data: bytes, source: str, cni_args: str, ifname: str, container_id: str, cni_path: list[str],
                as_json: bool) -> tuple[str, bool]:
    """Resolve as the ADD would (asking the API for the pod and its NADs; no event, no status write)."""
    try:
        netconf = load_config(data)
    except CniError as exc:
        return f"{source}: invalid (CNI error {exc.code}): {exc}", False
    cmd = CmdArgs("ADD", container_id, "", ifname, cni_args, cni_path, dict(os.environ), b"")
    session = Session(netconf, cmd, Logger("error", "", sys.stderr), events=False)
    try:
        delegates = session.for_add()
    except CniError as exc:
        calls = session.kube.calls if session.kube is not None else 0
        return f"an ADD would fail before any delegate runs (CNI error {exc.code}): {exc}\n" \
               f"API requests made: {calls}", False
    finally:
        session.close()
    path = netconf.plugin_path + cni_path
    pod = session.pod
    found_all = True
    if as_json:
        entries: list[dict] = []
        doc = {"network": netconf.name, "cniVersion": netconf.cni_version,
               "pod": None if pod is None else {"namespace": pod.namespace, "name": pod.name, "uid": pod.uid},
               "delegates": entries}
        for d in delegates:
            entry = d.to_json()
            entry.pop("result", None)
            entry["plugins"] = {p: _where(p, path)[0] for p in _plugin_types(d.conf)}
            found_all = found_all and all(_where(p, path)[1] for p in _plugin_types(d.conf))
            entries.append(entry)
        return redact(json.dumps(doc)), found_all
    lines = [f"{source}: network {netconf.name!r}, cniVersion {netconf.cni_version}"]
    if session.pod_key is None:
        lines.append("pod: none given (no K8S_POD_NAMESPACE/K8S_POD_NAME): static delegates only")
    elif pod is None and session.kube is not None:
        lines.append(f"pod: {'/'.join(session.pod_key)} not found in the API: the cluster network only")
    elif pod is None:
        lines.append(f"pod: {'/'.join(session.pod_key)} (no API access: annotations not read)")
    else:
        origin = "from the API" if pod.obj is not None else "annotations from the runtime"
        lines.append(f"pod: {pod.key}, uid {pod.uid or '?'} ({origin})")
    lines.append("delegates, in execution order:")
    for d in delegates:
        lines.append(f"  {d.ifname:<8} {'master' if d.master else '      '} {d.name}  (from {d.source})")
        for plugin in _plugin_types(d.conf):
            where, found = _where(plugin, path)
            found_all = found_all and found
            lines.append(f"           plugin {plugin}: {where}")
        lines.append(f"           CNI_ARGS: {d.args or '(none)'}")
        if d.runtime_config:
            lines.append(f"           runtime overrides: {redact(json.dumps(d.runtime_config))}")
        if d.gateways:
            lines.append(f"           default-route: via {', '.join(d.gateways)}")
        elif d.filter_families:
            lines.append(f"           default-route: its IPv{'/IPv'.join(d.filter_families)} default routes are removed")
        if d.device_id:
            lines.append(f"           device: {d.device_id} ({d.resource or 'from the annotation'}), info file {d.devinfo}")
        lines.append(f"           config: {redact(json.dumps(d.conf))}")
    if session.kube is not None:
        lines.append(f"API requests made: {session.kube.calls}")
    if not found_all:
        lines.append("some plugins are missing: ADD would fail")
    return "\n".join(lines), found_all
