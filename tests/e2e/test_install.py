"""The built file as an operator installs it: first run, another user, no usable home, no bytecode writes."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import BINARY, REPO

NOBODY = 65534


@pytest.fixture
def install_dir():
    """A world-readable directory (pytest's tmp dirs are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="multus-install-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def build_id() -> str:
    import zipfile

    with zipfile.ZipFile(BINARY) as zf:
        return json.loads(zf.read("environment.json"))["build_id"]


def fast_link() -> Path:
    """The unpacked copy the file's interpreter line goes to (`d='...'` in its first line)."""
    with open(BINARY, "rb") as f:
        line = f.readline().decode()
    return Path(line.split("d='", 1)[1].split("'", 1)[0])


@pytest.fixture
def fresh_node():
    """As on a node where the file never ran: no unpacked copy for the interpreter line to use."""
    link = fast_link()
    target = os.readlink(link) if os.path.islink(link) else None
    if target is not None:
        link.unlink()
    yield link
    if os.path.lexists(link):
        link.unlink()
    if target is not None:
        link.symlink_to(target)


def run(argv, uid=None, **env):
    base = {"PATH": "/usr/bin:/bin", **env}
    prefix = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] if uid is not None else []
    return subprocess.run(prefix + [str(a) for a in argv], input="", capture_output=True, text=True, env=base,
                          timeout=120)


def test_first_run_unpacks_with_bytecode_even_when_told_not_to_write_any(install_dir, fresh_node):
    name = f"multus-first-{os.getpid()}"
    target = install_dir / name
    shutil.copy(BINARY, target)
    cache = Path("/var/cache/multus") / f"{name}_{build_id()}"
    try:
        out = run([target], CNI_COMMAND="VERSION", PYTHONDONTWRITEBYTECODE="1")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["cniVersion"] == "1.1.0"
        assert list((cache / "site-packages" / "multus" / "__pycache__").glob("entry.*.pyc"))
        assert os.readlink(fresh_node) == f"{name}_{build_id()}/site-packages", "the next start goes straight there"
        again = run([target, "validate", REPO / "examples" / "basic.conf"])
        assert again.returncode == 0 and "valid" in again.stdout, again.stderr
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def test_a_removed_unpacked_copy_is_unpacked_again(install_dir, fresh_node):
    target = install_dir / "multus"
    shutil.copy(BINARY, target)
    cache = Path("/var/cache/multus") / f"multus_{build_id()}"
    had_cache = cache.exists()
    fresh_node.symlink_to("nowhere/site-packages")  # as after someone emptied /var/cache/multus
    try:
        out = run([target], CNI_COMMAND="VERSION")
        assert out.returncode == 0, out.stderr
        assert fresh_node.resolve() == (cache / "site-packages").resolve()
    finally:
        if not had_cache:
            shutil.rmtree(cache, ignore_errors=True)


def test_another_user_runs_roots_unpacked_copy_and_writes_nothing(install_dir):
    target = install_dir / "multus"
    shutil.copy(BINARY, target)
    assert run([target], CNI_COMMAND="VERSION").returncode == 0  # root's first run unpacks
    private = Path(tempfile.gettempdir()) / f"multus-{NOBODY}"
    existed = private.exists()
    out = run([target], uid=NOBODY, CNI_COMMAND="VERSION", HOME="/nonexistent")
    assert out.returncode == 0, out.stderr
    assert private.exists() == existed, "nothing unpacked for that user"


def test_non_root_user_with_unusable_home(install_dir, fresh_node):
    name = f"multus-user-{os.getpid()}"
    target = install_dir / name
    shutil.copy(BINARY, target)
    (install_dir / "basic.conf").write_text((REPO / "examples" / "basic.conf").read_text())
    private = Path(tempfile.gettempdir()) / f"multus-{NOBODY}"
    created = not private.exists()
    try:
        for home in ("/nonexistent", "/proc"):
            out = run([target], uid=NOBODY, CNI_COMMAND="VERSION", HOME=home)
            assert out.returncode == 0, out.stderr
            cli = run([target, "validate", install_dir / "basic.conf"], uid=NOBODY, HOME=home)
            assert cli.returncode == 0 and "valid" in cli.stdout, cli.stderr
        # /var/cache/multus is root's: the unprivileged user unpacked into its own private directory.
        assert private.stat().st_uid == NOBODY and private.stat().st_mode & 0o077 == 0
    finally:
        if created:
            shutil.rmtree(private, ignore_errors=True)


def test_a_cache_directory_prepared_by_someone_else_is_refused(install_dir, fresh_node):
    private = Path(tempfile.gettempdir()) / f"multus-{NOBODY}"
    if private.exists():
        pytest.fail(f"{private} exists already; remove it to run this test")
    private.mkdir(mode=0o777)
    private.chmod(0o777)
    try:
        target = install_dir / "multus-trap"
        shutil.copy(BINARY, target)
        out = run([target], uid=NOBODY, CNI_COMMAND="VERSION")
        assert out.returncode != 0 and "not private" in out.stderr
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_installed_under_a_helper_name_it_is_that_plugin(install_dir):
    (install_dir / "flannel").symlink_to(BINARY)
    conf = {"cniVersion": "1.0.0", "name": "cbr0", "type": "flannel",
            "subnetFile": str(install_dir / "no-subnet.env"), "delegate": {"isDefaultGateway": True}}
    proc = subprocess.run([str(install_dir / "flannel")], input=json.dumps(conf), capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c",
                                            "CNI_NETNS": "/proc/self/ns/net", "CNI_IFNAME": "eth9",
                                            "CNI_PATH": "/usr/lib/cni"})
    # flannel's own answer (multus would have refused a config without delegates, code 7).
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {"cniVersion": "1.0.0", "code": 11,
                                       "msg": f"{install_dir / 'no-subnet.env'} does not exist: is flanneld running?"}
