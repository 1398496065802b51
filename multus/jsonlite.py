"""JSON for the per-exec paths, straight on the interpreter's C codec (`_json`).

`import json` costs ~11 ms on this project's reference VM, mostly `re` and `enum` pulled in by
json.decoder/encoder; the C scanner and encoder underneath need neither. Errors are ValueError,
like json's. Output: compact (what plugins and state files get) or indented (what a runtime
and a human read on stdout), keys in insertion order unless `sort_keys`.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False  # typing costs ~4 ms to import; the annotations need it only for checkers
if TYPE_CHECKING:
    from typing import Any

_INF = float("inf")
_CONSTANTS = {"-Infinity": -_INF, "Infinity": _INF, "NaN": _INF - _INF}
_WHITESPACE = " \t\n\r"


class _ScanContext:
    """The attributes the C scanner reads from a decoder (json.JSONDecoder's defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__
    memo: dict = {}


_scan = _json.make_scanner(_ScanContext())  # type: ignore[arg-type]


def loads(data: bytes | str) -> Any:
    text = data.decode("utf-8-sig" if data[:3] == b"\xef\xbb\xbf" else "utf-8") if isinstance(data, bytes) else data
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as stop:
        raise ValueError(f"Expecting value: char {stop.value}") from None
    except SystemError:
        # The C scanner reports a syntax error through json.decoder.JSONDecodeError, which it finds
        # only if json.decoder is already imported: let json itself say what is wrong.
        import json

        return json.loads(text)
    finally:
        _ScanContext.memo.clear()
    if text[end:].strip(_WHITESPACE):
        raise ValueError(f"Extra data: char {end}")
    return value


def loads_object(data: bytes | str) -> dict:
    """A document that must be a JSON object; the ValueError completes "<what> ...": "is not JSON:
    <why>" or "is not a JSON object"."""
    try:
        value = loads(data)
    except ValueError as exc:
        raise ValueError(f"is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("is not a JSON object")
    return value


def _default(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _encoder(sort_keys: bool, separators: tuple[str, str]):
    return _json.make_encoder(None, _default, _json.encode_basestring_ascii, None, separators[1], separators[0],
                              sort_keys, False, True)


_COMPACT = _encoder(False, (",", ":"))
_COMPACT_SORTED = _encoder(True, (",", ":"))


def dumps(value: object, sort_keys: bool = False) -> str:
    """Compact, as plugins and the state files get it."""
    return "".join((_COMPACT_SORTED if sort_keys else _COMPACT)(value, 0))


def dumps_indented(value: object, indent: int = 4, level: int = 0) -> str:
    """Indented like json.dumps(value, indent=4): the document a runtime (and a human) reads."""
    pad = " " * (indent * (level + 1))
    if isinstance(value, dict) and value:
        items = [f"{pad}{_json.encode_basestring_ascii(str(k))}: {dumps_indented(v, indent, level + 1)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * (indent * level) + "}"
    if isinstance(value, list) and value:
        items = [f"{pad}{dumps_indented(v, indent, level + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * (indent * level) + "]"
    return dumps(value)
