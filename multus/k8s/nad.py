"""NetworkAttachmentDefinition → the network config a delegate runs (multus-behaviour.md §5).

`spec.config` is the config (its `name` defaults to the NAD's); an empty spec means "the config
of that name in confDir". A `k8s.v1.cni.cncf.io/resourceName` annotation ties the NAD to a
device-plugin resource.
"""

from __future__ import annotations

from multus import jsonlite
from multus.cni import conffiles
from multus.cni.errors import INVALID_CONFIG, CniError
from multus.k8s.annotations import RESOURCE_NAME


def config_of(nad: dict, conf_dir: str) -> dict:
    meta = nad.get("metadata") or {}
    name, namespace = meta.get("name", ""), meta.get("namespace", "")
    where = f"NetworkAttachmentDefinition {namespace}/{name}"
    text = (nad.get("spec") or {}).get("config")
    if not text:
        conf = conffiles.find_by_name(conf_dir, name)
        if conf is None:
            raise CniError(INVALID_CONFIG, f"{where} has no spec.config and {conf_dir} has no network named {name!r}")
        return conf
    if not isinstance(text, str):
        raise CniError(INVALID_CONFIG, f"{where}: spec.config must be a string of JSON")
    try:
        conf = jsonlite.loads_object(text)
    except ValueError as exc:
        raise CniError(INVALID_CONFIG, f"{where}: spec.config {exc}") from None
    if not conf.get("name"):
        conf["name"] = name
    return conf


def resource_name(nad: dict) -> str:
    return str(((nad.get("metadata") or {}).get("annotations") or {}).get(RESOURCE_NAME) or "")
