"""`multus demo`: real multi-interface attachments in scratch namespaces, then a clean teardown.

bridge + host-local as master (eth0, default route), macvlan on a scratch veth (net1) and ptp
(net2), run through the same in-process CNI path the runtime uses, for two pods that then ping
each other over the bridge and the macvlan network (traffic stays inside the demo's namespaces).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

import click

from multus.core.plugin import run


def _ip(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise click.ClickException(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def demo_config(tag: str, scratch: str, master: str) -> dict:
    ipam = os.path.join(scratch, "ipam")
    return {
        "cniVersion": "1.0.0", "name": f"demo-{tag}", "type": "multus", "cniDir": os.path.join(scratch, "state"),
        "delegates": [
            {"name": f"demo-bridge-{tag}", "type": "bridge", "bridge": f"mdbr{tag}", "isGateway": True,
             "ipMasq": False, "ipam": {"type": "host-local", "subnet": "10.249.0.0/24",
                                       "routes": [{"dst": "0.0.0.0/0"}], "dataDir": ipam}},
            {"name": f"demo-macvlan-{tag}", "type": "macvlan", "master": master, "mode": "bridge",
             "ipam": {"type": "host-local", "subnet": "10.249.1.0/24", "dataDir": ipam}},
            {"name": f"demo-ptp-{tag}", "type": "ptp",
             "ipam": {"type": "host-local", "subnet": "10.249.2.0/24", "dataDir": ipam}},
        ],
    }


def _cni(command: str, conf: dict, env: dict[str, str]) -> tuple[int, dict | None]:
    out = io.BytesIO()
    code = run(dict(os.environ, CNI_COMMAND=command, **env), json.dumps(conf).encode(), out, sys.stderr)
    text = out.getvalue().strip()
    return code, json.loads(text) if text else None


def _addresses(netns: str) -> dict[str, str]:
    out = {}
    for line in _ip("-n", netns, "-o", "-4", "addr").splitlines():
        fields = line.split()
        out[fields[1]] = fields[3].split("/")[0]
    return out


def _ping(netns: str, address: str) -> bool:
    if not shutil.which("ping"):
        click.echo("   (ping is not installed: apt-get install iputils-ping)")
        return True
    proc = subprocess.run(["ip", "netns", "exec", netns, "ping", "-c", "1", "-W", "2", address],
                          capture_output=True, text=True)
    return proc.returncode == 0


def run_demo(cni_path: str) -> int:
    """Two scratch pods on the same three networks: attach, show, ping each other, detach."""
    if os.geteuid() != 0:
        raise click.ClickException("the demo creates namespaces and links: run it as root")
    tag = str(os.getpid() % 100000)
    pods, master = [f"multus-demo-{tag}-a", f"multus-demo-{tag}-b"], f"mdv{tag}"
    scratch = tempfile.mkdtemp(prefix="multus-demo-")
    conf = demo_config(tag, scratch, master)

    def env(pod: str) -> dict[str, str]:
        return {"CNI_CONTAINERID": pod, "CNI_NETNS": f"/var/run/netns/{pod}", "CNI_IFNAME": "eth0",
                "CNI_PATH": cni_path, "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAME={pod}"}

    try:
        for pod in pods:
            _ip("netns", "add", pod)
            _ip("-n", pod, "link", "set", "lo", "up")
        _ip("link", "add", master, "type", "veth", "peer", "name", f"{master}p")
        for link in (master, f"{master}p"):
            _ip("link", "set", link, "up")
        click.echo(f"== two scratch pods {pods[0]}, {pods[1]}; delegates: bridge (master), macvlan on {master}, ptp")
        results = []
        for pod in pods:
            code, result = _cni("ADD", conf, env(pod))
            if code != 0:
                click.echo(f"ADD failed for {pod}: {json.dumps(result)}", err=True)
                return code
            results.append(result)
        click.echo(f"== ADD result for {pods[0]} (the master's, in the config's cniVersion):\n"
                   f"{json.dumps(results[0], indent=2)}")
        click.echo(f"== interfaces in {pods[0]}:\n{_ip('-n', pods[0], '-br', 'addr')}")
        click.echo(f"== routes in {pods[0]}:\n{_ip('-n', pods[0], 'route')}")
        peer = _addresses(pods[1])
        ok = True
        for ifname, network in (("eth0", "bridge"), ("net1", "macvlan")):
            reached = _ping(pods[0], peer[ifname])
            ok = ok and reached
            click.echo(f"== ping {pods[0]} -> {pods[1]} {ifname} {peer[ifname]} over the {network} network: "
                       f"{'ok' if reached else 'FAILED'}")
        for pod in pods:
            code, error = _cni("DEL", conf, env(pod))
            left = [line.split()[0] for line in _ip("-n", pod, "-br", "link").splitlines()]
            click.echo(f"== DEL {pod} exit {code}; links left: {', '.join(left)}")
            ok = ok and code == 0 and left == ["lo"]
        if not ok:
            click.echo("demo failed", err=True)
            return 1
        click.echo("== demo OK: two pods got three interfaces each, reached each other, and were cleaned up")
        return 0
    finally:
        for pod in pods:
            _ip("netns", "del", pod, check=False)
        _ip("link", "del", master, check=False)
        _ip("link", "del", f"mdbr{tag}", check=False)
        shutil.rmtree(scratch, ignore_errors=True)
