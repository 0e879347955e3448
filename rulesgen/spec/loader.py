"""YAML loading that remembers where every key and value came from.

PyYAML's composer keeps marks on nodes but the constructed Python objects lose
them; we construct the plain data ourselves and keep a side table of positions
keyed by path, so every later stage can point at `file:line:col`.

The data follows the YAML 1.2 core schema. PyYAML implements YAML 1.1, and other
tools that read the same file (editors, linters, yq, Go and JavaScript YAML
libraries) may follow either version, so a plain scalar the two versions read
differently (`yes`, `010`, `1:30`, `1_000`, `2024-01-01`, `1e3`) is an error that
asks for quotes or an unambiguous spelling instead of picking one meaning. Text
must be free of control characters and numbers must be finite, because both end
up in generated rules and dashboards where they would break silently.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

try:
    # libyaml's parser is ~10x faster than PyYAML's and keeps the same marks.
    from yaml import CSafeLoader as _FastLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _FastLoader  # type: ignore[assignment]

from rulesgen.errors import Path, SpecError, SpecErrors, render_path

_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_MERGE_TAG = "tag:yaml.org,2002:merge"

# Tags our resolver gives plain scalars. They are private so that a node carrying
# a standard tag such as `!!int` is known to have been tagged explicitly.
_INT = "rulesgen:int"
_FLOAT = "rulesgen:float"
_BOOL = "rulesgen:bool"
_NULL = "rulesgen:null"
_AMBIGUOUS = "rulesgen:yaml-1.1-differs"

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULL_WORDS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL_WORDS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT_DEC = re.compile(r"[-+]?[0-9]+\Z")
_INT_OCT = re.compile(r"0o[0-7]+\Z")
_INT_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_INF_RE = re.compile(r"[-+]?\.(?:inf|Inf|INF)\Z")
_NAN_RE = re.compile(r"\.(?:nan|NaN|NAN)\Z")

# YAML 1.1 adds these words to the booleans; PyYAML leaves out the one-letter ones
# but the 1.1 type repository lists them, and some 1.1 readers honour them.
_YAML11_BOOL_WORDS = frozenset(
    [
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
    ]
)

# A plain scalar starting with anything else is text in both versions; checking the
# first character keeps the common case (words) off the regular expressions.
_MAYBE_TYPED = frozenset("-+.0123456789~nNtTfFyYoO<=")

# Characters YAML does not allow in a stream, plus NEL, LS and PS, which YAML 1.1
# reads as line breaks and YAML 1.2 as ordinary characters.
_RAW_FORBIDDEN = re.compile("[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Escapes in double-quoted text can produce any character; tabs and newlines are
# fine in summaries and descriptions, every other control character is not.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# Anchors let a few bytes expand into an exponential number of values; real specs
# stay far below this many values per character of text.
_EXPANSION_PER_CHAR = 10
_MAX_DEPTH = 100
_MAX_RAW_ERRORS = 20


@dataclass
class Positions:
    """Line and column (1-based) of values and of mapping keys, by data path."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def of(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The position of `path`, or of its closest ancestor that has one."""
        table = self.keys if key else self.values
        probe = path
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def error(self, path: Path, message: str, *, key: bool = False) -> SpecError:
        """A SpecError located at `path` (its key with `key=True`)."""
        line, col = self.of(path, key=key)
        return SpecError(self.file, line, col, render_path(path), message)


def _yaml11_tag(value: str) -> str:
    """The tag YAML 1.1 (PyYAML's resolver, plus y/n) gives a plain scalar."""
    if value in _YAML11_BOOL_WORDS:
        return "tag:yaml.org,2002:bool"
    for tag, regexp in Resolver.yaml_implicit_resolvers.get(value[:1], ()):
        if regexp.match(value):
            return str(tag)
    return _STR_TAG


def _yaml12_tag(value: str) -> str:
    if value in _NULL_WORDS:
        return _NULL
    if value in _BOOL_WORDS:
        return _BOOL
    if _INT_DEC.match(value) or _INT_OCT.match(value) or _INT_HEX.match(value):
        return _INT
    if _FLOAT_RE.match(value) or _INF_RE.match(value) or _NAN_RE.match(value):
        return _FLOAT
    return _STR_TAG


_KIND = {_NULL: "null", _BOOL: "bool", _INT: "int", _FLOAT: "float", _STR_TAG: "str"}
_NUMBER_START = frozenset("-+.0123456789")


def _resolve_plain(value: str) -> str:
    """The YAML 1.2 tag of a plain scalar, or _AMBIGUOUS when YAML 1.1 reads it otherwise."""
    if value[:1] not in _NUMBER_START:
        # Words: set lookups only, as most keys and values take this path.
        if value in _NULL_WORDS:
            return _NULL
        if value in _BOOL_WORDS:
            return _BOOL
        if value in _YAML11_BOOL_WORDS or value == "=":
            return _AMBIGUOUS
        if value == "<<":
            return _MERGE_TAG  # a YAML 1.1 feature, kept as the widely supported extension
        return _STR_TAG
    tag12 = _yaml12_tag(value)
    if _yaml11_tag(value).rsplit(":", 1)[-1] != _KIND[tag12]:
        if tag12 == _FLOAT and _FLOAT_RE.match(value) and math.isinf(float(value)):
            return _FLOAT  # `1e999` is text to YAML 1.1, but infinity is the error worth reporting
        return _AMBIGUOUS
    if tag12 == _INT and _INT_DEC.match(value):
        digits = value.lstrip("+-")
        # YAML 1.1 reads a leading zero as octal: 010 is 8 there and 10 in 1.2.
        if len(digits) > 1 and digits[0] == "0" and int(digits, 8) != int(digits):
            return _AMBIGUOUS
    return tag12


class _Yaml12Loader(_FastLoader):
    """libyaml's parser and composer (~10x faster, same marks) with YAML 1.2 tag resolution."""

    def resolve(self, kind: type[Node], value: str | None, implicit: tuple[bool, bool]) -> str:
        """The tag of a node without an explicit one (called by the composer)."""
        if kind is not ScalarNode:
            return _SEQ_TAG if kind is SequenceNode else _MAP_TAG
        assert value is not None
        if not implicit[0] or (value and value[0] not in _MAYBE_TYPED):
            return _STR_TAG  # quoted, block or `!`-tagged, or a word no schema types
        return _resolve_plain(value)


def _pos(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _describe(tag: str, value: Any, text: str) -> str:
    if tag == _INT:
        return f"the octal number {value}" if text.startswith("0o") else f"the number {value}"
    if tag.endswith(":int"):  # YAML 1.1
        bare = text.lstrip("+-")
        if ":" in text:
            return f"the base-60 number {value}"
        if bare.startswith("0b"):
            return f"the binary number {value}"
        if len(bare) > 1 and bare[0] == "0" and bare[1] != "x":
            return f"the octal number {value}"
        return f"the number {value}"
    if tag.endswith(":float"):
        return f"the base-60 number {value}" if ":" in text else f"the number {value}"
    if tag.endswith(":timestamp"):
        return "a date"
    if tag.endswith(":value"):
        return "its default-value key"
    if tag.endswith(":null"):
        return "null"
    return f"the text {text!r}"


def _yaml11_value(tag: str, text: str) -> Any:
    constructor = yaml.SafeLoader("")
    method = {
        "tag:yaml.org,2002:int": constructor.construct_yaml_int,
        "tag:yaml.org,2002:float": constructor.construct_yaml_float,
    }.get(tag)
    try:
        return method(ScalarNode(tag, text)) if method else None
    except ValueError:  # more digits than int() converts
        return None


def _ambiguity(text: str) -> str:
    """Why YAML 1.1 and 1.2 disagree on a plain scalar, and how to say it unambiguously."""
    tag11 = _yaml11_tag(text)
    if tag11.endswith(":bool"):
        return f'YAML reads the bare word {text!r} as a boolean; quote it ("{text}") for text, or write true/false'
    tag12 = _yaml12_tag(text)
    value12: Any = None
    if tag12 in (_INT, _FLOAT):
        try:
            value12 = _int12(text) if tag12 == _INT else float(text)
        except ValueError:
            value12 = None
    read11 = _describe(tag11, _yaml11_value(tag11, text), text)
    read12 = _describe(tag12, value12, text)
    hint = f'quote it ("{text}") for text'
    if value12 is not None and tag11 == _STR_TAG:
        hint += f", or write {_unambiguous(value12)} for the number"
    elif tag12 == _INT and tag11.endswith(":int"):
        octal = f", 0o{text.lstrip('0')} for octal" if text[0] == "0" else ""
        hint = f"write {value12} without leading zeros{octal}, or {hint}"
    return f"YAML 1.1 reads {text} as {read11} but YAML 1.2 as {read12}; {hint}"


def _unambiguous(number: float) -> str:
    """A spelling both YAML versions read as `number`: YAML 1.1 needs a dot in a float."""
    if isinstance(number, int):
        return str(number)
    mantissa, _, exponent = repr(number).partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}e{exponent}" if exponent else mantissa


def _int12(text: str) -> int:
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


class _Builder:
    def __init__(self, file: str, budget: int) -> None:
        self.positions = Positions(file)
        self.errors: list[SpecError] = []
        self._budget = budget
        self._merging: set[int] = set()
        self._open: set[int] = (
            set()
        )  # ids of the collections being built, to stop an alias cycle  # ids of the mappings being merged, to stop a merge cycle

    def _error(self, node: Node, path: Path, message: str) -> None:
        line, col = _pos(node)
        self.errors.append(SpecError(self.positions.file, line, col, render_path(path), message))

    def build(self, node: Node, path: Path) -> Any:
        self.positions.values[path] = _pos(node)
        self._budget -= 1
        if self._budget < 0:
            if self._budget == -1:  # report once, then stop expanding
                self._error(node, path, "anchors and aliases expand into too many values; is an alias recursive?")
            return None
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if node.tag not in (_SEQ_TAG, _MAP_TAG):
            return self._unsupported_tag(node, path)
        if id(node) in self._open:
            self._error(node, path, "an alias refers to a collection that contains it (a cycle)")
            return None
        if len(path) > _MAX_DEPTH:
            # The full path would be as long as the nesting; the position says where.
            self._error(node, path[:1], f"nested more than {_MAX_DEPTH} levels deep")
            return None
        self._open.add(id(node))
        if isinstance(node, MappingNode):
            built: Any = self._mapping(node, path)
        else:
            built = [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        self._open.discard(id(node))
        return built

    def _unsupported_tag(self, node: Node, path: Path) -> None:
        self._error(node, path, f"unsupported YAML tag {node.tag!r}; write the value without a tag")

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        tag: str = node.tag
        text: str = node.value
        if tag == _STR_TAG:
            # Only escapes in double quotes can produce control characters: the raw
            # text was checked before parsing.
            if node.style == '"' and (found := _CONTROL.search(text)):
                char = found.group()
                self._error(
                    node,
                    path,
                    f"text contains the control character U+{ord(char):04X} ({char!r}); "
                    "only newlines and tabs may appear in text",
                )
            return text
        if tag == _INT:
            try:
                number = _int12(text)
                float(number)
            except (ValueError, OverflowError):
                self._error(node, path, f"the number {_shorten(text)} is too large (it overflows to infinity)")
                return None
            return number
        if tag == _FLOAT:
            if not _FLOAT_RE.match(text):
                self._error(node, path, f"{text} is not a finite number; numbers must be finite")
                return None
            value = float(text)
            if math.isinf(value):
                self._error(node, path, f"the number {_shorten(text)} is too large (it overflows to infinity)")
                return None
            return value
        if tag == _BOOL:
            return _BOOL_WORDS[text]
        if tag == _NULL:
            return None
        if tag == _AMBIGUOUS:
            self._error(node, path, _ambiguity(text))
            return None
        if tag == _MERGE_TAG:
            self._error(node, path, "'<<' is YAML's merge key and only works as a key; quote it for text")
            return None
        return self._unsupported_tag(node, path)

    def _merge_sources(self, node: Node, path: Path) -> list[MappingNode]:
        if isinstance(node, MappingNode):
            return [node]
        if isinstance(node, SequenceNode) and all(isinstance(item, MappingNode) for item in node.value):
            return list(node.value)
        self._error(node, path, "the merge key '<<' takes a mapping (`<<: *anchor`) or a list of them")
        return []

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        # Merges first, so explicit keys override merged ones wherever they appear.
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE_TAG:
                for source in self._merge_sources(value_node, path):
                    if id(source) in self._merging:
                        self._error(value_node, path, "the merge key '<<' merges a mapping into itself")
                        continue
                    self._merging.add(id(source))
                    for key, value in self._mapping(source, path).items():
                        merged.setdefault(key, value)  # the first mapping listed wins
                    self._merging.discard(id(source))
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line, col = _pos(key_node)
            if not isinstance(key_node, ScalarNode):
                self.errors.append(
                    SpecError(self.positions.file, line, col, render_path(path), "mapping keys must be text")
                )
                continue
            if key_node.tag == _MERGE_TAG:
                continue
            reported = len(self.errors)
            raw_key = self._scalar(key_node, path)
            if len(self.errors) > reported:
                key = str(key_node.value)  # already reported; later paths read as written
            else:
                key = raw_key if isinstance(raw_key, str) else str(raw_key)
            if key in out:
                self.errors.append(
                    SpecError(
                        self.positions.file,
                        line,
                        col,
                        render_path((*path, key)),
                        f"duplicate key {key!r} (YAML would silently keep only the last one)",
                    )
                )
                continue
            self.positions.keys[(*path, key)] = (line, col)
            out[key] = self.build(value_node, (*path, key))
        if not merged:
            return out
        return {**{k: v for k, v in merged.items() if k not in out}, **out}


def _shorten(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:20]}...{text[-10:]} ({len(text)} characters)"


def _raw_character_errors(text: str, file: str) -> list[SpecError]:
    """Characters YAML rejects or reads differently by version, each with its position."""
    errors: list[SpecError] = []
    for found in _RAW_FORBIDDEN.finditer(text):
        if len(errors) == _MAX_RAW_ERRORS:
            break
        before = text[: found.start()].replace("\r\n", "\n").replace("\r", "\n")
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        char = found.group()
        code = f"U+{ord(char):04X}"
        if char in "\x85\u2028\u2029":
            message = f"{code} is a line break in YAML 1.1 but not in YAML 1.2; use a plain newline"
        elif _CONTROL.match(char):
            message = f"the control character {code} ({char!r}) is not allowed in the spec"
        else:
            message = f"{code} is not a character YAML allows"
        errors.append(SpecError(file, line, col, "", message))
    return errors


def load_yaml(text: str, file: str) -> tuple[Any, Positions]:
    """Parse YAML text into plain data plus the positions of every key and value.

    The data follows the YAML 1.2 core schema. Raises SpecErrors for malformed
    YAML, duplicate keys, plain scalars that YAML 1.1 reads differently, control
    characters in text, and numbers that are not finite.
    """
    raw_errors = _raw_character_errors(text, file)
    if raw_errors:
        raise SpecErrors(raw_errors)
    try:
        node = yaml.compose(text, Loader=_Yaml12Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "malformed YAML"
        if exc.context and exc.context_mark and exc.problem_mark:
            # PyYAML notices an unclosed bracket only at the next token; name where it opened.
            ctx = exc.context_mark
            problem += f" ({exc.context} opened at line {ctx.line + 1}, column {ctx.column + 1})"
        raise SpecErrors([SpecError(file, line, col, "", f"malformed YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise SpecErrors([SpecError(file, 1, 1, "", f"malformed YAML: {exc}")]) from None
    builder = _Builder(file, _EXPANSION_PER_CHAR * len(text) + 1000)
    if node is None:
        return None, builder.positions
    data = builder.build(node, ())
    if builder.errors:
        raise SpecErrors(builder.errors)
    return data, builder.positions
