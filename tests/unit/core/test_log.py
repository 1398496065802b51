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
