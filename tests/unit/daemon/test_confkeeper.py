"""The daemon's `multusConfigFile`: the shim config generated from the node's primary, kept current."""

import json

from multus.core.log import Logger
from multus.daemon.config import DaemonConfig
from multus.daemon.confkeeper import ShimConfigKeeper

PRIMARY = {"cniVersion": "1.0.0", "name": "cbr0", "plugins": [{"type": "bridge", "capabilities": {"portMappings": True}}]}


def keeper(conf_dir, **keys):
    config = DaemonConfig({"multusConfigFile": "auto", "cniConfigDir": str(conf_dir), "socketDir": "/run/test-multus",
                           "logLevel": "verbose", **keys})
    return ShimConfigKeeper(config, Logger("error", "", None, ""))


def test_auto_generates_the_shim_config_from_the_primary_and_follows_its_changes(tmp_path):
    primary = tmp_path / "10-bridge.conflist"
    primary.write_text(json.dumps(PRIMARY))
    k = keeper(tmp_path)
    k.refresh()
    doc = json.loads((tmp_path / "00-multus.conflist").read_text())
    [plugin] = doc["plugins"]
    assert doc["name"] == "multus-cni-network" and doc["cniVersion"] == "1.0.0"
    assert (plugin["type"], plugin["clusterNetwork"], plugin["daemonSocketDir"]) == (
        "multus-shim", str(primary), "/run/test-multus")
    assert plugin["capabilities"] == {"portMappings": True}
    primary.write_text(json.dumps(dict(PRIMARY, cniVersion="0.4.0")))
    k.refresh()
    assert not (tmp_path / "00-multus.conflist").exists(), "the other variant is removed"
    assert json.loads((tmp_path / "00-multus.conf").read_text())["cniVersion"] == "0.4.0"


def test_override_network_name_and_forced_version(tmp_path):
    (tmp_path / "10-bridge.conflist").write_text(json.dumps(PRIMARY))
    keeper(tmp_path, overrideNetworkName=True, forceCNIVersion="1.1.0").refresh()
    doc = json.loads((tmp_path / "00-multus.conflist").read_text())
    assert (doc["name"], doc["cniVersion"]) == ("cbr0", "1.1.0")


def test_a_given_file_is_copied_and_cleanup_on_exit_removes_the_generated_one(tmp_path):
    source = tmp_path / "mine.conf"
    source.write_text('{"cniVersion":"0.4.0","name":"x","type":"multus-shim"}')
    out = tmp_path / "net.d"
    out.mkdir()
    keeper(out, multusConfigFile=str(source)).refresh()
    assert (out / "mine.conf").read_bytes() == source.read_bytes()
    (out / "10-bridge.conflist").write_text(json.dumps(PRIMARY))
    k = keeper(out, cleanupConfigOnExit=True, multusAutoconfigDir=str(out))
    k.start()
    assert (out / "00-multus.conflist").exists()
    k.stop()
    assert not (out / "00-multus.conflist").exists()
