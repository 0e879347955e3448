"""A small YAML writer for generated files: every string double-quoted, keys in the
order given, no anchors, no timestamps, so output is stable and never retyped
(`"No"` stays a string in every YAML 1.1 and 1.2 reader).

A value the caller marks as `Repeated` (the same expected alerts under hundreds of
checks of a test file) is rendered once per document and its lines copied where it
recurs; the text is the same as without the mark.

The one exception to quoting is text the caller marks as `BlockText` (a ConfigMap's embedded
JSON document): it is written as a literal block scalar (`|` or `|-`), one source line
per YAML line, so a one-line change in the document is a one-line diff. A block scalar
is never retyped either; text a block cannot carry exactly is double-quoted instead.
"""

from __future__ import annotations

import re
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}
# What a block scalar carries verbatim: YAML's printable characters less the line
# breaks a YAML 1.1 reader also accepts (NEL, LS, PS) and the byte order mark; no CR.
_BLOCK_SAFE = re.compile("[\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*")


# Characters JSON leaves raw that a YAML reader rejects (DEL, C1 controls, BOM,
# non-characters) or reads as a line break inside quotes (NEL, LS, PS).
_QUOTE_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _quoted(value: str) -> str:
    # JSON string escapes are a subset of YAML double-quoted escapes. encode_basestring
    # is what json.dumps(value, ensure_ascii=False) calls for a string, without the
    # encoder object it builds on every call: generated test files hold many strings.
    text = encode_basestring(value)
    if _QUOTE_UNSAFE.search(text) is None:
        return text
    return _QUOTE_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# The start of every non-empty line: empty lines stay empty, without trailing spaces.
_INDENT_LINE = re.compile(r"^(?=.)", re.MULTILINE)


class BlockText(str):
    """A multi-line string to write as a literal block scalar rather than quoted."""

    __slots__ = ()


def _block(value: BlockText, indent: int) -> list[str] | None:
    """`|` or `|-` and the indented lines of `value`, or None when a block scalar would
    not read back as exactly `value` (then the caller quotes it)."""
    if value in ("", "\n") or value.endswith("\n\n") or not _BLOCK_SAFE.fullmatch(value):
        return None  # empty, or trailing blank lines a clipped block would drop
    pad = "  " * indent
    clipped = value.endswith("\n")
    header = "|" if clipped else "|-"
    if value[0] in " \n":
        header += "2"  # leading spaces would otherwise be read as the block's indentation
    # One string, not a list of lines: a dashboard of thousands of panels is 10^5 lines.
    # str.replace is the fast path (the final newline is left to the caller); empty
    # lines, rare, are kept free of trailing spaces.
    if "\n\n" in value or value[0] == "\n":
        text = _INDENT_LINE.sub(pad, value[:-1] if clipped else value)
    else:
        text = pad + value.replace("\n", "\n" + pad, value.count("\n") - clipped)
        if clipped:
            text = text[:-1]
    return [header, text]


class Repeated(tuple[Any, ...]):
    """A list that recurs, as the same object, in one document: rendered once there."""

    __slots__ = ()


# Lines of each `Repeated` value of the document being dumped, by (id, indent): the
# document holds every value alive while it is dumped, so an id names one value.
_Memo = dict[tuple[int, int], list[str]]


@lru_cache(maxsize=4096)
def _key(key: str) -> str:
    # Keys repeat across a test file's thousands of checks (alertname, exp_labels):
    # classified and quoted once each.
    if _PLAIN_KEY.match(key) and key.lower() not in _YAML11_WORDS:
        return key
    return _scalar(key)


def _scalar(value: Any) -> str:
    if type(value) is str:  # the common case first
        return _quoted(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return _quoted(str(value))


def _lines(value: Any, indent: int, out: list[str], memo: _Memo) -> list[str]:
    """The lines of `value` at `indent`, appended to `out` (one list for a whole
    document: nested values do not build lists of their own to copy)."""
    if type(value) is Repeated and value:
        return _repeated(value, indent, out, memo)
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            out.append(pad + "{}")
            return out
        for key, item in value.items():
            if type(item) is str:  # most values of a test file: no block, no nesting
                out.append(f"{pad}{_key(key)}: {_quoted(item)}")
                continue
            block = _block(item, indent + 1) if isinstance(item, BlockText) else None
            if block is not None:
                out.append(f"{pad}{_key(key)}: {block[0]}")
                out.extend(block[1:])
            elif isinstance(item, (dict, list, tuple)) and item:
                out.append(f"{pad}{_key(key)}:")
                _lines(item, indent + (0 if isinstance(item, (list, tuple)) else 1), out, memo)
            else:
                out.append(f"{pad}{_key(key)}: {_inline(item)}")
        return out
    if isinstance(value, (list, tuple)):
        if not value:
            out.append(pad + "[]")
            return out
        for item in value:
            first = len(out)
            _lines(item, indent + 1, out, memo)
            out[first] = f"{pad}- {out[first].lstrip()}"
        return out
    out.append(pad + _scalar(value))
    return out


def _repeated(value: Repeated, indent: int, out: list[str], memo: _Memo) -> list[str]:
    known = memo.get((id(value), indent))
    if known is None:
        first = len(out)
        _lines(tuple(value), indent, out, memo)
        known = memo[(id(value), indent)] = out[first:]
    else:
        out.extend(known)
    return out


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return _scalar(value)


def dump(value: Any, header: str = "") -> bytes:
    """YAML text for plain data (dicts, lists, str, int, float, bool, None)."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    _lines(value, 0, lines, {})
    lines.append("")  # the final newline
    # Each copy of a large block (a dashboard) is megabytes: keep at most two alive.
    text = "\n".join(lines)
    del lines
    return text.encode("utf-8")
