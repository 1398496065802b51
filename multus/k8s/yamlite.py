"""A reader for the block-YAML subset kubeconfigs are written in, so reading one costs no PyYAML (~36 ms).

Mappings and sequences by indentation, `key: value` and `- ` items, plain, single- and
double-quoted scalars, comments. Anything outside that (anchors, aliases, tags, block scalars,
flow collections other than empty ones, several documents, tabs) raises `Unsupported`, and the
caller hands the text to PyYAML, so a kubeconfig is never read differently from how PyYAML reads it.
"""

from __future__ import annotations


class Unsupported(ValueError):
    """Not in the subset: use PyYAML."""


_SPECIAL_START = ("&", "*", "!", "|", ">", "%", "@", "`", "{", "[", "?")


def _scalar(text: str) -> object:
    text = text.strip()
    if not text:
        return None
    if text in ("{}", "[]"):
        return {} if text == "{}" else []
    if text.startswith(_SPECIAL_START) or text.startswith("- "):
        raise Unsupported(text[:20])
    if text[0] == '"':
        if len(text) < 2 or text[-1] != '"' or "\\" in text[1:-1] and not _simple_escapes(text[1:-1]):
            raise Unsupported(text[:20])
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if text[0] == "'":
        if len(text) < 2 or text[-1] != "'":
            raise Unsupported(text[:20])
        return text[1:-1].replace("''", "'")
    if " #" in text:
        text = text.split(" #", 1)[0].rstrip()
    if ": " in text or text.endswith(":"):
        raise Unsupported(text[:20])
    lowered = text.lower()
    if lowered in ("true", "yes", "on", "false", "no", "off", "null", "~"):
        if lowered in ("true", "false", "null", "~"):
            return {"true": True, "false": False}.get(lowered)
        raise Unsupported(text)  # YAML 1.1 booleans: let PyYAML decide
    if text[0] in "+-.0123456789":
        try:
            return int(text, 10)
        except ValueError:
            raise Unsupported(text[:20]) from None
    return text


def _simple_escapes(body: str) -> bool:
    i = 0
    while i < len(body):
        if body[i] == "\\":
            if i + 1 >= len(body) or body[i + 1] not in '"\\':
                return False
            i += 2
        else:
            i += 1
    return True


def _lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for raw in text.splitlines():
        if "\t" in raw:
            raise Unsupported("tab")
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped in ("---", "..."):
            if out:
                raise Unsupported("several documents")
            continue
        out.append((len(raw) - len(raw.lstrip(" ")), stripped))
    return out


def loads(text: str) -> object:
    lines = _lines(text)
    if not lines:
        return None
    value, end = _block(lines, 0, lines[0][0])
    if end != len(lines):
        raise Unsupported("trailing content")
    return value


def _split_key(item: str) -> tuple[str, str]:
    if item.startswith(("'", '"')):
        raise Unsupported("quoted key")
    key, sep, rest = item.partition(":")
    if not sep or (rest and not rest.startswith(" ")) or not key or key.startswith(_SPECIAL_START):
        raise Unsupported(item[:20])
    return key.strip(), rest.strip()


def _block(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[object, int]:
    if lines[i][1].startswith("- ") or lines[i][1] == "-":
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent)


def _mapping(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[dict, int]:
    out: dict = {}
    while i < len(lines) and lines[i][0] == indent:
        key, rest = _split_key(lines[i][1])
        if key in out:
            raise Unsupported(f"duplicate key {key}")
        i += 1
        if rest and not rest.startswith("#"):
            out[key] = _scalar(rest)
        elif i < len(lines) and (lines[i][0] > indent or lines[i][0] == indent and lines[i][1].startswith("- ")):
            out[key], i = _block(lines, i, lines[i][0])
        else:
            out[key] = None
    if i < len(lines) and lines[i][0] > indent:
        raise Unsupported("bad indentation")
    return out, i


def _sequence(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[list, int]:
    out: list = []
    while i < len(lines) and lines[i][0] == indent and (lines[i][1].startswith("- ") or lines[i][1] == "-"):
        item = lines[i][1][1:].lstrip(" ")
        inner = indent + (len(lines[i][1]) - len(item))
        if not item:
            i += 1
            if i < len(lines) and lines[i][0] > indent:
                value, i = _block(lines, i, lines[i][0])
                out.append(value)
            else:
                out.append(None)
        elif ":" in item and not item.startswith(("'", '"')) and (": " in item or item.endswith(":")):
            # "- key: value" opens a mapping whose keys are aligned with "key"
            lines[i] = (inner, item)
            value, i = _mapping(lines, i, inner)
            out.append(value)
        else:
            out.append(_scalar(item))
            i += 1
    return out, i
