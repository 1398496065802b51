"""`multus demo`: a real multi-interface attachment in a scratch namespace, then a clean teardown.

bridge + host-local as master (eth0, default route), macvlan on a scratch veth (net1) and ptp
(net2), run through the same in-process CNI path the runtime uses.
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


def run_demo(cni_path: str) -> int:
    if os.geteuid() != 0:
        raise click.ClickException("the demo creates namespaces and links: run it as root")
    tag = str(os.getpid() % 100000)
    netns, master = f"multus-demo-{tag}", f"mdv{tag}"
    scratch = tempfile.mkdtemp(prefix="multus-demo-")
    conf = demo_config(tag, scratch, master)
    env = {"CNI_CONTAINERID": f"demo-{tag}", "CNI_NETNS": f"/var/run/netns/{netns}", "CNI_IFNAME": "eth0",
           "CNI_PATH": cni_path, "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAME=demo-{tag}"}
    try:
        _ip("netns", "add", netns)
        _ip("link", "add", master, "type", "veth", "peer", "name", f"{master}p")
        for link in (master, f"{master}p"):
            _ip("link", "set", link, "up")
        click.echo(f"== scratch namespace {netns}; delegates: bridge (master), macvlan on {master}, ptp")
        code, result = _cni("ADD", conf, env)
        click.echo(f"== ADD exit {code}; master result:\n{json.dumps(result, indent=2)}")
        if code != 0:
            return code
        click.echo(f"== interfaces in {netns}:\n{_ip('-n', netns, '-br', 'addr')}")
        click.echo(f"== routes in {netns}:\n{_ip('-n', netns, 'route')}")
        code, error = _cni("DEL", conf, env)
        left = _ip("-n", netns, "-br", "link")
        click.echo(f"== DEL exit {code}; links left in {netns}:\n{left}")
        if code != 0 or [line.split()[0] for line in left.splitlines()] != ["lo"]:
            click.echo(f"demo failed: {error}", err=True)
            return 1
        click.echo("== demo OK: three interfaces attached and removed")
        return 0
    finally:
        _ip("netns", "del", netns, check=False)
        _ip("link", "del", master, check=False)
        _ip("link", "del", f"mdbr{tag}", check=False)
        shutil.rmtree(scratch, ignore_errors=True)
