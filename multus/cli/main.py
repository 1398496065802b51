"""`multus add|del|check|status|gc|version|validate|explain|doctor|daemon|install|demo`.

add/del/check/status/gc debug by hand what the runtime runs; daemon and install are the node's
thick mode and DaemonSet entrypoint.

Each network command builds the CNI environment the runtime would, runs the very same
dispatcher in-process, and prints the very same JSON.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

import click

from multus import __version__

DEFAULT_CNI_PATH = "/opt/cni/bin:/usr/lib/cni"


def netns_path(netns: str) -> str:
    """`ip netns` names are accepted as well as paths."""
    if not netns or "/" in netns:
        return netns
    return f"/var/run/netns/{netns}"


def run_cni(command: str, config: bytes, verbose: bool, **env: str) -> int:
    from multus.core.plugin import run

    environ = dict(os.environ, CNI_COMMAND=command, **{k: v for k, v in env.items() if v is not None})
    out = io.BytesIO()
    code = run(environ, config, out, sys.stderr, "debug" if verbose else None)
    sys.stdout.write(out.getvalue().decode())
    return code


def _attachment_options(fn: Callable[..., None]) -> Callable[..., None]:
    for option in reversed([
        click.option("--netns", default="", help="Network namespace: an `ip netns` name or a path."),
        click.option("--config", "config", type=click.File("rb"), required=True, help="Multus config file (- for stdin)."),
        click.option("--container-id", default="", help="Defaults to multus-cli-<netns name>."),
        click.option("--ifname", default="eth0", show_default=True, help="The runtime's interface name."),
        click.option("--cni-path", default=lambda: os.environ.get("CNI_PATH", DEFAULT_CNI_PATH),
                     show_default=DEFAULT_CNI_PATH, help="Plugin directories, ':'-separated."),
        click.option("--args", "cni_args", default="", help="CNI_ARGS, e.g. 'IgnoreUnknown=1;K8S_POD_NAME=p'."),
        click.option("--pod", default="", metavar="NS/NAME", help="The Kubernetes pod this is for (sets K8S_POD_* args)."),
        click.option("--pod-uid", default="", help="The pod's UID, as the kubelet passes it."),
    ]):
        fn = option(fn)
    return fn


def pod_args(pod: str, pod_uid: str, container_id: str, cni_args: str) -> str:
    """CNI_ARGS as the kubelet (through containerd or CRI-O) sends them for `pod` = NS/NAME."""
    if not pod:
        return cni_args
    namespace, sep, name = pod.partition("/")
    if not sep or not namespace or not name:
        raise click.UsageError("--pod must be NAMESPACE/NAME")
    pairs = [p for p in cni_args.split(";") if p]
    if not any(p.startswith("IgnoreUnknown=") for p in pairs):
        pairs.insert(0, "IgnoreUnknown=1")
    pairs += [f"K8S_POD_NAMESPACE={namespace}", f"K8S_POD_NAME={name}", f"K8S_POD_INFRA_CONTAINER_ID={container_id}",
              f"K8S_POD_UID={pod_uid}"]
    return ";".join(pairs)


def _attachment(command: str, ctx: click.Context, netns: str, config: BinaryIO, container_id: str, ifname: str,
                cni_path: str, cni_args: str, pod: str, pod_uid: str) -> None:
    if command != "DEL" and not netns:
        raise click.UsageError("--netns is required")
    cid = container_id or "multus-cli-" + (os.path.basename(netns) or "none")
    ctx.exit(run_cni(command, config.read(), ctx.obj["verbose"], CNI_CONTAINERID=cid, CNI_NETNS=netns_path(netns),
                     CNI_IFNAME=ifname, CNI_PATH=cni_path, CNI_ARGS=pod_args(pod, pod_uid, cid, cni_args)))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show what each delegate was sent and answered.")
@click.version_option(__version__, prog_name="multus")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Multus CNI meta-plugin. With CNI_COMMAND set it speaks CNI; these commands run it by hand."""
    ctx.ensure_object(dict)["verbose"] = verbose


def _attachment_command(command: str, summary: str) -> None:
    @cli.command(command.lower(), help=summary)
    @_attachment_options
    @click.pass_context
    def run(ctx: click.Context, **kw: Any) -> None:
        _attachment(command, ctx, **kw)


_attachment_command("ADD", "Attach every delegate, print the master's result.")
_attachment_command("DEL", "Detach every delegate (from the stored state, else the config).")
_attachment_command("CHECK", "CHECK every delegate against its stored result.")


@cli.command("status")
@click.option("--config", "config", type=click.File("rb"), required=True)
@click.option("--cni-path", default=lambda: os.environ.get("CNI_PATH", DEFAULT_CNI_PATH))
@click.pass_context
def status_cmd(ctx: click.Context, config: BinaryIO, cni_path: str) -> None:
    """Ask the master delegate whether it is ready (CNI 1.1)."""
    ctx.exit(run_cni("STATUS", config.read(), ctx.obj["verbose"], CNI_PATH=cni_path))


@cli.command("gc")
@click.option("--config", "config", type=click.File("rb"), required=True)
@click.option("--cni-path", default=lambda: os.environ.get("CNI_PATH", DEFAULT_CNI_PATH))
@click.option("--valid", multiple=True, metavar="CONTAINERID/IFNAME",
              help="An attachment to keep; repeat. Everything else in the state is removed.")
@click.pass_context
def gc_cmd(ctx: click.Context, config: BinaryIO, cni_path: str, valid: tuple[str, ...]) -> None:
    """Remove stored attachments the runtime no longer has (CNI 1.1)."""
    import json

    from multus.cni.errors import CniError
    from multus.cni.skel import decode_config

    try:
        conf = decode_config(config.read())
    except CniError as exc:
        raise click.ClickException(str(exc)) from None
    conf["cni.dev/valid-attachments"] = [
        {"containerID": v.partition("/")[0], "ifname": v.partition("/")[2]} for v in valid]
    ctx.exit(run_cni("GC", json.dumps(conf).encode(), ctx.obj["verbose"], CNI_PATH=cni_path))


@cli.command("version")
def version_cmd() -> None:
    """Print the CNI VERSION answer."""
    sys.exit(run_cni("VERSION", b"", False))


@cli.command("validate")
@click.argument("config", type=click.File("rb"))
@click.option("--cni-path", default=lambda: os.environ.get("CNI_PATH", DEFAULT_CNI_PATH))
@click.option("--ifname", default="eth0", show_default=True)
def validate_cmd(config: BinaryIO, cni_path: str, ifname: str) -> None:
    """Load a config and explain what an ADD would do, without touching any namespace."""
    from multus.cli.explain import explain

    text, ok = explain(config.read(), config.name, [p for p in cni_path.split(":") if p], ifname)
    click.echo(text)
    sys.exit(0 if ok else 1)


@cli.command("explain")
@click.option("--config", "config", type=click.File("rb"), required=True, help="Multus config (or a conflist).")
@click.option("--pod", default="", metavar="NS/NAME", help="Resolve for this pod, from the API.")
@click.option("--pod-uid", default="")
@click.option("--ifname", default="eth0", show_default=True)
@click.option("--container-id", default="multus-explain")
@click.option("--cni-path", default=lambda: os.environ.get("CNI_PATH", DEFAULT_CNI_PATH))
@click.option("--json", "as_json", is_flag=True, help="Print the resolution as JSON.")
def explain_cmd(config: BinaryIO, pod: str, pod_uid: str, ifname: str, container_id: str, cni_path: str,
                as_json: bool) -> None:
    """What an ADD for this pod would attach: NADs, order, ifnames, each delegate's config, CNI_ARGS and
    runtime overrides. Asks the API as the ADD would; touches no namespace and runs no plugin."""
    from multus.cli.explain import explain_pod

    text, ok = explain_pod(config.read(), config.name, pod_args(pod, pod_uid, container_id, ""), ifname, container_id,
                           [p for p in cni_path.split(":") if p], as_json)
    click.echo(text)
    sys.exit(0 if ok else 1)


@cli.command("doctor")
@click.option("--config", "config", type=click.File("rb"), required=True, help="Multus config (or a conflist).")
@click.option("--cni-path", default=lambda: os.environ.get("CNI_PATH", DEFAULT_CNI_PATH))
def doctor_cmd(config: BinaryIO, cni_path: str) -> None:
    """Check, one line each, what this node's Multus needs: kubeconfig, API, credentials, RBAC, the NAD CRD,
    the readiness file, the cluster network and its plugins."""
    from multus.cli.doctor import doctor

    ok = doctor(config.read(), config.name, [p for p in cni_path.split(":") if p], click.echo)
    sys.exit(0 if ok else 1)


@cli.command("daemon")
@click.option("--config", "config_path", default="/etc/cni/net.d/multus.d/daemon-config.json", show_default=True,
              help="Daemon config file (upstream's format: socketDir, cniConfigDir, multusConfigFile, chrootDir, "
                   "... plus any multus config key).")
def daemon_cmd(config_path: str) -> None:
    """The node daemon (thick mode): serve CNI requests from the shim on a unix socket."""
    from multus.cni.errors import CniError
    from multus.daemon.main import run
    from multus.helpers import self_command

    try:
        sys.exit(run(config_path, dict(os.environ), self_command(sys.argv)))
    except (CniError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


@cli.command("probe")
@click.option("--socket", "socket_path", default="/run/multus/multus.sock", show_default=True)
@click.argument("path", type=click.Choice(["/healthz", "/readyz"]))
def probe_cmd(socket_path: str, path: str) -> None:
    """Ask the daemon's /healthz or /readyz over its socket (the DaemonSet's exec probes)."""
    from multus.httpwire import Connection

    try:
        answer = Connection(unix_path=socket_path, timeout=5).request("GET", path)
    except OSError as exc:
        click.echo(f"{socket_path}: {exc}", err=True)
        sys.exit(1)
    click.echo(answer.body.decode(errors="replace").strip())
    sys.exit(0 if answer.status == 200 else 1)


@cli.command("install")
@click.option("--type", "kind", type=click.Choice(["thin", "thick"]), default="thin", show_default=True,
              help="thin: multus runs every request itself; thick: the shim hands them to `multus daemon`.")
@click.option("--host-root", default="/host", show_default=True, help="Where the host's / is mounted.")
@click.option("--cni-bin-dir", default="/opt/cni/bin", show_default=True, help="The host's CNI bin dir.")
@click.option("--cni-conf-dir", default="/etc/cni/net.d", show_default=True, help="The host's CNI config dir.")
@click.option("--kubeconfig", default="/etc/cni/net.d/multus.d/multus.kubeconfig", show_default=True,
              help="The host path of the kubeconfig to write from this pod's service account ('' for none).")
@click.option("--service-account-dir", default="/var/run/secrets/kubernetes.io/serviceaccount", show_default=True)
@click.option("--api-server", default="", help="Defaults to https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT.")
@click.option("--primary", default="", help="The primary CNI config's file name (default: the lexically first).")
@click.option("--cni-version", default="", help="Force the generated config's cniVersion.")
@click.option("--daemon-socket-dir", default="/run/multus", show_default=True, help="thick: the daemon's socket dir.")
@click.option("--multus-key", "multus_keys", multiple=True, metavar="KEY=JSON",
              help="Another key for the generated config, e.g. logLevel='\"verbose\"'; repeat.")
@click.option("--binary", default="", help="The file to install (default: this one).")
@click.option("--watch/--once", default=True, show_default=True,
              help="Keep the kubeconfig and the generated config current.")
@click.option("--cleanup-config-on-exit", is_flag=True, help="With --watch: remove the generated config on SIGTERM.")
@click.option("--skip-host-check", is_flag=True, help="Do not check the host's Python.")
def install_cmd(kind: str, host_root: str, cni_bin_dir: str, cni_conf_dir: str, kubeconfig: str,
                service_account_dir: str, api_server: str, primary: str, cni_version: str, daemon_socket_dir: str,
                multus_keys: tuple[str, ...], binary: str, watch: bool, cleanup_config_on_exit: bool,
                skip_host_check: bool) -> None:
    """Install this file on the node, write the multus kubeconfig and generate 00-multus.conf(list)."""
    import json
    import signal

    from multus.node.install import Installer

    extra = {}
    for item in multus_keys:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.UsageError(f"--multus-key {item!r}: expected KEY=JSON")
        try:
            extra[key] = json.loads(value)
        except ValueError:
            extra[key] = value
    options = {"kind": kind, "host_root": host_root, "cni_bin_dir": cni_bin_dir, "cni_conf_dir": cni_conf_dir,
               "kubeconfig": kubeconfig, "service_account_dir": service_account_dir, "api_server": api_server,
               "primary": primary, "cni_version": cni_version, "daemon_socket_dir": daemon_socket_dir,
               "multus": extra, "binary": binary or os.path.abspath(sys.argv[0]),
               "cleanup_config_on_exit": cleanup_config_on_exit, "skip_host_check": skip_host_check}
    installer = Installer(options, dict(os.environ), lambda line: click.echo(line, err=True))
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: installer.stopping.set())
    sys.exit(installer.run(watch))


@cli.command("demo")
@click.option("--cni-path", default=lambda: os.environ.get("CNI_PATH", DEFAULT_CNI_PATH))
def demo_cmd(cni_path: str) -> None:
    """Attach three real networks to a scratch namespace, show them, tear everything down."""
    from multus.cli.demo import run_demo

    sys.exit(run_demo(cni_path))
