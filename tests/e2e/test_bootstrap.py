"""What build/fastmain.py relies on in shiv's bootstrap, pinned: a shiv upgrade that changes it fails here."""

import inspect
import json
import os
import subprocess
import zipfile

from shiv import bootstrap

from tests.conftest import BINARY


def test_extract_site_packages_keeps_the_signature_fastmain_calls():
    params = list(inspect.signature(bootstrap.extract_site_packages).parameters)
    assert params == ["archive", "target_path", "compile_pyc", "compile_workers", "force"]


def test_fastmain_unpacks_where_shiv_itself_would(tmp_path):
    with zipfile.ZipFile(BINARY) as zf:
        env = json.loads(zf.read("environment.json"))
        expected = bootstrap.cache_path(zf, str(tmp_path), env["build_id"])
    assert expected == tmp_path / f"multus_{env['build_id']}"
    # The zipapp start (what the interpreter line falls back to when nothing is unpacked yet).
    proc = subprocess.run(["/usr/bin/python3", "-sSE", str(BINARY)], env={"PATH": os.environ["PATH"],
                          "CNI_COMMAND": "VERSION", "SHIV_ROOT": str(tmp_path)}, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (expected / "site-packages" / "multus" / "entry.py").is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [expected.name]
    assert list((expected / "site-packages").glob("multus-*.dist-info")), "the shipped metadata is inside"
