"""Devices the kubelet allocated to a pod, and the device-info files that describe them.

The source is the kubelet's device-manager checkpoint file (multus-behaviour.md §6): the
pod-resources gRPC API would need a gRPC stack, which a per-exec plugin should not carry, and
the checkpoint holds the same allocations. Device-info files follow the device-info spec's
paths (`<dir>/dp/...` written by device plugins, `<dir>/cni/...` written for the CNI plugin).
"""

from __future__ import annotations

import os

from multus import jsonlite
from multus.cni.errors import INVALID_CONFIG, CniError


def allocated(checkpoint: str, pod_uid: str) -> dict[str, list[str]]:
    """Resource name → the pod's device IDs, sorted (each NAD of a resource takes the next one)."""
    try:
        with open(checkpoint, "rb") as f:
            doc = jsonlite.loads(f.read())
    except OSError as exc:
        raise CniError(INVALID_CONFIG, f"no device source on this node: cannot read the kubelet checkpoint "
                                       f"{checkpoint}: {exc.strerror}") from None
    except ValueError as exc:
        raise CniError(INVALID_CONFIG, f"kubelet checkpoint {checkpoint} is not JSON: {exc}") from None
    entries = ((doc.get("Data") or {}).get("PodDeviceEntries") or []) if isinstance(doc, dict) else []
    devices: dict[str, set[str]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("PodUID") != pod_uid:
            continue
        ids = entry.get("DeviceIDs") or []
        if isinstance(ids, dict):  # NUMA node → IDs (kubelet >= 1.20)
            ids = [i for group in ids.values() for i in (group or [])]
        devices.setdefault(str(entry.get("ResourceName", "")), set()).update(str(i) for i in ids)
    return {resource: sorted(ids) for resource, ids in devices.items()}


def _clean(name: str) -> str:
    return name.replace("/", "-")


def cni_devinfo_path(devinfo_dir: str, delegate_name: str, container_id: str, ifname: str) -> str:
    return os.path.join(devinfo_dir, "cni", f"{_clean(delegate_name)}-{container_id}_{ifname}")


def dp_devinfo_path(devinfo_dir: str, resource: str, device_id: str) -> str:
    return os.path.join(devinfo_dir, "dp", f"{_clean(resource)}-{device_id}-device.json")
