"""CNI_ARGS: the runtime's "K=V;K=V" string.

Upstream's strict parser rejects a value containing '=' (quirk Q9); we split on the first '='
so such values survive, and reject only items that are not pairs at all.
"""

from __future__ import annotations

from multus.cni.errors import INVALID_ENV, CniError


def parse(text: str, strict: bool = True) -> list[tuple[str, str]]:
    """`strict=False` drops items that are not pairs instead of failing (DEL must converge)."""
    pairs: list[tuple[str, str]] = []
    if not text:
        return pairs
    for item in text.split(";"):
        if item == "":
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            if not strict:
                continue
            raise CniError(INVALID_ENV, f"CNI_ARGS: invalid pair {item!r}: expected KEY=VALUE")
        pairs.append((key, value))
    return pairs


def format_pairs(pairs: list[tuple[str, str]]) -> str:
    return ";".join(f"{k}={v}" for k, v in pairs)


def for_delegates(text: str, strict: bool = True) -> str:
    """Forward the runtime's args, making sure delegates tolerate keys they do not know.

    The reference plugins reject unknown keys (e.g. K8S_POD_NAME) unless IgnoreUnknown is set;
    a runtime that forgot it would otherwise break every delegate.
    """
    pairs = parse(text, strict)
    if not pairs:
        return ""
    if not any(k == "IgnoreUnknown" for k, _ in pairs):
        pairs.insert(0, ("IgnoreUnknown", "1"))
    return format_pairs(pairs)


def without(text: str, keys: tuple[str, ...]) -> str:
    return format_pairs([(k, v) for k, v in parse(text, strict=False) if k not in keys])
