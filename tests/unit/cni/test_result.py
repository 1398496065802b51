"""Result conversion between every pair of spec versions."""

import itertools

import pytest

from multus.cni import result
from multus.cni.errors import DECODE, CniError
from multus.cni.version import SUPPORTED

LEGACY = ("0.1.0", "0.2.0")

MODEL = {
    "interfaces": [{"name": "br0", "mac": "0a:00:00:00:00:01"},
                   {"name": "eth0", "mac": "0a:00:00:00:00:02", "sandbox": "/var/run/netns/x"}],
    "ips": [{"interface": 1, "address": "10.1.0.5/24", "gateway": "10.1.0.1"},
            {"interface": 1, "address": "fd00::5/64", "gateway": "fd00::1"}],
    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "fd00:1::/64", "gw": "fd00::1"}],
    "dns": {"nameservers": ["10.1.0.2"]},
}


def legacy_view(model):
    """What a 0.1/0.2 result can carry: first address per family, routes by family, no interfaces."""
    ips = [{k: v for k, v in ip.items() if k != "interface"} for ip in model["ips"]]
    return {"ips": ips, "routes": model["routes"], "dns": model["dns"]}


def test_legacy_shape():
    out = result.from_current(MODEL, "0.2.0")
    assert out == {"cniVersion": "0.2.0",
                   "ip4": {"ip": "10.1.0.5/24", "gateway": "10.1.0.1", "routes": [{"dst": "0.0.0.0/0"}]},
                   "ip6": {"ip": "fd00::5/64", "gateway": "fd00::1",
                           "routes": [{"dst": "fd00:1::/64", "gw": "fd00::1"}]},
                   "dns": {"nameservers": ["10.1.0.2"]}}


def test_04_has_ip_version_and_10_does_not():
    assert [ip["version"] for ip in result.from_current(MODEL, "0.4.0")["ips"]] == ["4", "6"]
    assert all("version" not in ip for ip in result.from_current(MODEL, "1.0.0")["ips"])


INTERFACES = [{"name": "br0", "mac": "0a:00:00:00:00:01"},
              {"name": "eth0", "mac": "0a:00:00:00:00:02", "sandbox": "/var/run/netns/x"}]
ROUTES = [{"dst": "0.0.0.0/0"}, {"dst": "fd00:1::/64", "gw": "fd00::1"}]
DNS = {"nameservers": ["10.1.0.2"]}
# The same result written out by hand in each family's shape; "from legacy" is what survives a 0.1/0.2 trip.
DOCUMENTS = {
    "1.x": {"interfaces": INTERFACES,
            "ips": [{"interface": 1, "address": "10.1.0.5/24", "gateway": "10.1.0.1"},
                    {"interface": 1, "address": "fd00::5/64", "gateway": "fd00::1"}],
            "routes": ROUTES, "dns": DNS},
    "0.3/0.4": {"interfaces": INTERFACES,
                "ips": [{"version": "4", "interface": 1, "address": "10.1.0.5/24", "gateway": "10.1.0.1"},
                        {"version": "6", "interface": 1, "address": "fd00::5/64", "gateway": "fd00::1"}],
                "routes": ROUTES, "dns": DNS},
    "legacy": {"ip4": {"ip": "10.1.0.5/24", "gateway": "10.1.0.1", "routes": [{"dst": "0.0.0.0/0"}]},
               "ip6": {"ip": "fd00::5/64", "gateway": "fd00::1", "routes": [{"dst": "fd00:1::/64", "gw": "fd00::1"}]},
               "dns": DNS},
    "1.x from legacy": {"ips": [{"address": "10.1.0.5/24", "gateway": "10.1.0.1"},
                                {"address": "fd00::5/64", "gateway": "fd00::1"}],
                        "routes": ROUTES, "dns": DNS},
    "0.3/0.4 from legacy": {"ips": [{"version": "4", "address": "10.1.0.5/24", "gateway": "10.1.0.1"},
                                    {"version": "6", "address": "fd00::5/64", "gateway": "fd00::1"}],
                            "routes": ROUTES, "dns": DNS},
}


def family(version):
    return "legacy" if version in LEGACY else ("0.3/0.4" if version.startswith("0.") else "1.x")


@pytest.mark.parametrize("src, dst", list(itertools.product(SUPPORTED, SUPPORTED)))
def test_every_pair(src, dst):
    source = {"cniVersion": src, **DOCUMENTS[family(src)]}
    shape = family(dst)
    if src in LEGACY and shape != "legacy":
        shape += " from legacy"
    assert result.convert(source, src, dst) == {"cniVersion": dst, **DOCUMENTS[shape]}


@pytest.mark.parametrize("src, dst", [(a, b) for a, b in itertools.product(SUPPORTED, SUPPORTED)
                                      if a not in LEGACY and b not in LEGACY])
def test_round_trip_is_lossless_outside_legacy(src, dst):
    original = result.from_current(MODEL, src)
    assert result.convert(result.convert(original, src, dst), dst, src) == original


@pytest.mark.parametrize("src, dst", list(itertools.product(LEGACY, SUPPORTED)))
def test_round_trip_from_legacy_is_lossless(src, dst):
    original = result.from_current(legacy_view(MODEL), src)
    assert result.convert(result.convert(original, src, dst), dst, src) == original


def test_real_bridge_0_2_0_result_upgrades():
    legacy = {"cniVersion": "0.2.0", "ip4": {"ip": "10.222.0.5/24", "gateway": "10.222.0.1",
                                             "routes": [{"dst": "0.0.0.0/0"}]}, "dns": {}}
    assert result.convert(legacy, "0.2.0", "1.0.0") == {
        "cniVersion": "1.0.0", "ips": [{"address": "10.222.0.5/24", "gateway": "10.222.0.1"}],
        "routes": [{"dst": "0.0.0.0/0"}], "dns": {}}


def test_loopback_result_without_version_key_at_0_3_1_is_accepted():
    lo = {"cniVersion": "0.3.1", "interfaces": [{"name": "lo"}], "ips": [{"interface": 0, "address": "127.0.0.1/8"}]}
    assert result.convert(lo, "0.3.1", "0.3.1")["ips"] == [{"version": "4", "interface": 0, "address": "127.0.0.1/8"}]


@pytest.mark.parametrize("bad", [[], {"ips": "x"}, {"ips": [{"gateway": "1.2.3.4"}]}, {"dns": []}])
def test_malformed_results_are_decode_errors(bad):
    with pytest.raises(CniError) as info:
        result.to_current(bad, "1.0.0")
    assert info.value.code == DECODE


def test_version_of_defaults_to_config_version():
    assert result.version_of({"ips": []}, "0.4.0") == "0.4.0"
    assert result.version_of({"cniVersion": "1.0.0"}, "0.4.0") == "1.0.0"
