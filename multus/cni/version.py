"""Spec versions as data: the supported list, ordering, and per-command minimums."""

from __future__ import annotations

from multus.cni.errors import INCOMPATIBLE_VERSION, CniError

SUPPORTED = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
CURRENT = "1.1.0"
# A config without cniVersion is 0.1.0 (the spec's rule, and what the reference plugins do).
IMPLICIT = "0.1.0"
MIN_FOR_COMMAND = {"CHECK": "0.4.0", "STATUS": "1.1.0", "GC": "1.1.0"}


def parse(version: str) -> tuple[int, int, int]:
    parts = version.split(".") if isinstance(version, str) else []
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise CniError(INCOMPATIBLE_VERSION, f"invalid version {version!r}: expected MAJOR.MINOR.PATCH")
    return int(parts[0]), int(parts[1]), int(parts[2])


def at_least(version: str, minimum: str) -> bool:
    return parse(version) >= parse(minimum)


def of_config(conf: dict) -> str:
    version = conf.get("cniVersion")
    if version is None or version == "":
        return IMPLICIT
    if not isinstance(version, str):
        raise CniError(INCOMPATIBLE_VERSION, "cniVersion must be a string")
    return version


def require_supported(version: str) -> None:
    parse(version)
    if version not in SUPPORTED:
        raise CniError(
            INCOMPATIBLE_VERSION,
            "incompatible CNI versions",
            f"config is {version!r}, plugin supports {list(SUPPORTED)}",
        )


def require_command(command: str, version: str) -> None:
    minimum = MIN_FOR_COMMAND.get(command)
    if minimum and not at_least(version, minimum):
        raise CniError(
            INCOMPATIBLE_VERSION,
            f"configuration version {version!r} does not support the {command} command",
            f"{command} needs cniVersion {minimum} or later",
        )


def info_text() -> bytes:
    """The VERSION answer, as json.dumps(..., indent=4) would print it, without importing json.

    VERSION is called before every ADD and DEL by some runtimes (Podman), so it is kept minimal.
    """
    versions = ",\n".join(f'        "{v}"' for v in SUPPORTED)
    return f'{{\n    "cniVersion": "{CURRENT}",\n    "supportedVersions": [\n{versions}\n    ]\n}}\n'.encode()
