"""YAML loading that remembers where every key and value came from.

PyYAML's composer keeps marks on nodes but the constructed Python objects lose
them; we construct the plain data ourselves and keep a side table of positions
keyed by path, so every later stage can point at `file:line:col`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from rulesgen.errors import Path, SpecError, SpecErrors, render_path

# YAML 1.1 (what PyYAML implements) turns these plain words into booleans. A
# summary of "No" or a label value of "off" would silently become False, so we
# only accept the YAML 1.2 spellings and ask for quotes otherwise.
_BOOL_WORDS_OK = {"true", "false"}
_BOOL_TAG = "tag:yaml.org,2002:bool"
_STR_TAG = "tag:yaml.org,2002:str"


# libyaml's parser is ~10x faster and keeps the same marks; fall back when absent.
_FastLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
        line, col = self.of(path, key=key)
        return SpecError(self.file, line, col, render_path(path), message)


def _pos(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    def __init__(self, file: str) -> None:
        self.positions = Positions(file)
        self.errors: list[SpecError] = []
        self._constructor = yaml.SafeLoader("")

    def build(self, node: Node, path: Path) -> Any:
        self.positions.values[path] = _pos(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        if node.tag == _STR_TAG:
            return node.value  # most scalars are text: skip the generic constructor
        if node.tag == _BOOL_TAG and node.value.lower() not in _BOOL_WORDS_OK:
            line, col = _pos(node)
            self.errors.append(
                SpecError(
                    self.positions.file,
                    line,
                    col,
                    render_path(path),
                    f"YAML reads the bare word {node.value!r} as a boolean; "
                    f'quote it ("{node.value}") for text, or write true/false',
                )
            )
        return self._constructor.construct_object(node, deep=True)

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        self._constructor.flatten_mapping(node)  # resolve `<<: *anchor` merges
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line, col = _pos(key_node)
            if not isinstance(key_node, ScalarNode):
                self.errors.append(
                    SpecError(self.positions.file, line, col, render_path(path), "mapping keys must be text")
                )
                continue
            key = str(self._constructor.construct_object(key_node))
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
        return out


def load_yaml(text: str, file: str) -> tuple[Any, Positions]:
    """Parse YAML text into plain data plus the positions of every key and value.

    Raises SpecErrors for malformed YAML, duplicate keys and YAML 1.1 booleans.
    """
    try:
        node = yaml.compose(text, Loader=_FastLoader)
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
    builder = _Builder(file)
    if node is None:
        return None, builder.positions
    data = builder.build(node, ())
    if builder.errors:
        raise SpecErrors(builder.errors)
    return data, builder.positions
