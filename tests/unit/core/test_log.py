import io

from multus.core.log import REDACTED, Logger, redact


def test_credentials_are_redacted_at_any_depth():
    text = ('{"name": "n", "password": "hunter2", "ipam": {"token": "abc", "subnet": "10.0.0.0/24"},'
            ' "kubeconfig": {"users": [{"client-key-data": "S3CR3T", "auth-provider": {"x": 1}}]}}')
    out = redact(text)
    for secret in ("hunter2", "abc", "S3CR3T"):
        assert secret not in out
    assert out.count(REDACTED) == 4 and "10.0.0.0/24" in out


def test_non_json_is_left_alone():
    assert redact("not json") == "not json"


def test_levels_filter_and_prefix():
    err = io.StringIO()
    log = Logger("verbose", stderr=err, prefix="[c/eth0] ")
    log.debug("hidden")
    log.verbose("shown")
    assert "hidden" not in err.getvalue() and "[verbose] [c/eth0] shown" in err.getvalue()


def test_log_file_is_private_and_gets_every_line(tmp_path):
    path = tmp_path / "multus.log"
    log = Logger("error", str(path), stderr=None)
    log.error("first")
    log.verbose("not at this level")
    log.error("second")
    lines = path.read_text().splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == ["first", "second"]
    assert path.stat().st_mode & 0o777 == 0o600
