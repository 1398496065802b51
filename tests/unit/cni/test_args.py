import pytest

from multus.cni import args
from multus.cni.errors import INVALID_ENV, CniError


def test_parse_pairs_and_values_with_equals():
    assert args.parse("IgnoreUnknown=1;K8S_POD_NAME=p;X=a=b") == [
        ("IgnoreUnknown", "1"), ("K8S_POD_NAME", "p"), ("X", "a=b")]


def test_empty_and_trailing_separators():
    assert args.parse("") == []
    assert args.parse("A=1;;B=;") == [("A", "1"), ("B", "")]


@pytest.mark.parametrize("bad", ["novalue", "=x", "A=1;junk"])
def test_invalid_pairs_are_env_errors(bad):
    with pytest.raises(CniError) as info:
        args.parse(bad)
    assert info.value.code == INVALID_ENV
    assert "invalid pair" in info.value.msg


def test_delegates_always_get_ignore_unknown():
    assert args.for_delegates("K8S_POD_NAME=p") == "IgnoreUnknown=1;K8S_POD_NAME=p"
    assert args.for_delegates("IgnoreUnknown=true;K8S_POD_NAME=p") == "IgnoreUnknown=true;K8S_POD_NAME=p"
    assert args.for_delegates("") == ""


def test_lenient_parse_for_del_drops_what_is_not_a_pair():
    assert args.for_delegates("junk;K8S_POD_NAME=p;=x", strict=False) == "IgnoreUnknown=1;K8S_POD_NAME=p"
