"""A small YAML writer for generated files: every string double-quoted, keys in the
order given, no anchors, no timestamps, so output is stable and never retyped
(`"No"` stays a string in every YAML 1.1 and 1.2 reader)."""

from __future__ import annotations

import re
from json.encoder import encode_basestring
from typing import Any

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def _key(key: str) -> str:
    if _PLAIN_KEY.match(key) and key.lower() not in _YAML11_WORDS:
        return key
    return _scalar(key)


def _scalar(value: Any) -> str:
    # JSON string escapes are a subset of YAML double-quoted escapes. encode_basestring
    # is what json.dumps(value, ensure_ascii=False) calls for a string, without the
    # encoder object it builds on every call: generated test files hold many strings.
    if type(value) is str:  # the common case first
        return encode_basestring(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return encode_basestring(str(value))


def _lines(value: Any, indent: int) -> list[str]:
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return [pad + "{}"]
        out = []
        for key, item in value.items():
            if isinstance(item, (dict, list, tuple)) and item:
                out.append(f"{pad}{_key(key)}:")
                out.extend(_lines(item, indent + (0 if isinstance(item, (list, tuple)) else 1)))
            else:
                out.append(f"{pad}{_key(key)}: {_inline(item)}")
        return out
    if isinstance(value, (list, tuple)):
        if not value:
            return [pad + "[]"]
        out = []
        for item in value:
            nested = _lines(item, indent + 1)
            first = nested[0].lstrip()
            out.append(f"{pad}- {first}")
            out.extend(nested[1:])
        return out
    return [pad + _scalar(value)]


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return _scalar(value)


def dump(value: Any, header: str = "") -> bytes:
    """YAML text for plain data (dicts, lists, str, int, float, bool, None)."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    lines.extend(_lines(value, 0))
    return ("\n".join(lines) + "\n").encode("utf-8")
