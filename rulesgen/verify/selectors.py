"""What a rule expression reads, from promql-parser's AST (never from regexes over the
text): each selector with its literal label values, its range and offset, and whether a
counter function reads it; the two sides of a simple comparison; a canonical text for
comparing two expressions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import promql_parser

COUNTER_FUNCTIONS = {"rate", "increase", "irate", "resets"}
COMPARISONS = {">", "<", ">=", "<=", "==", "!="}
# A regex that is an alternation of literals (`arbitrum|polygon`, `/v1/nodes`): RE2
# metacharacters only as escapes.
_LITERAL_ALTERNATION = re.compile(
    r"^(?:[^\\.+*?()\[\]{}^$|]|\\[\\.+*?()|\[\]{}^$])+(?:\|(?:[^\\.+*?()\[\]{}^$|]|\\[\\.+*?()|\[\]{}^$])+)*$"
)


class BadExpression(Exception):
    pass


@dataclass(frozen=True)
class Read:
    """One selector of a rule: `metric{label op value}[range] offset`."""

    metric: str
    equal: tuple[tuple[str, str], ...]  # label = value
    alternatives: tuple[tuple[str, tuple[str, ...]], ...]  # label =~ "a|b", literal values
    range_s: float
    offset_s: float
    counter: bool  # read through rate/increase/irate/resets

    @property
    def values(self) -> dict[str, set[str]]:
        """Every literal value the selector needs per label."""
        out: dict[str, set[str]] = {}
        for label, value in self.equal:
            out.setdefault(label, set()).add(value)
        for label, values in self.alternatives:
            out.setdefault(label, set()).update(values)
        return out


def parse(expr: str) -> Any:
    try:
        return promql_parser.parse(expr)
    except Exception as exc:  # the parser raises plain exceptions with its message
        raise BadExpression(f"{expr!r} does not parse: {exc}") from None


def metric_names(expr: str) -> set[str]:
    """Metric names an expression reads (`name{...}` and `{__name__="name"}`); empty when
    it does not parse: promtool, which loads the rule, will say why."""
    try:
        ast = promql_parser.parse(expr)
    except Exception:  # the parser raises plain exceptions
        return set()
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__" and matcher.op == promql_parser.MatchOp.Equal:
                    names.add(matcher.value)

    promql_parser.walk(ast, visit)
    return names


def canonical(expr: str) -> str:
    """The parser's own printing: two expressions that differ only in spacing, quoting
    or parentheses Prometheus adds when it prints a rule compare equal."""
    return str(parse(expr))


def literal_values(regex: str) -> tuple[str, ...] | None:
    """`arbitrum|polygon` -> ("arbitrum", "polygon"); None for a real regex."""
    if not _LITERAL_ALTERNATION.match(regex):
        return None
    return tuple(re.sub(r"\\(.)", r"\1", part) for part in re.split(r"(?<!\\)\|", regex))


def _read(node: Any, range_s: float, counter: bool) -> Read:
    equal: list[tuple[str, str]] = []
    alternatives: list[tuple[str, tuple[str, ...]]] = []
    for m in node.matchers.matchers:
        op = str(m.op).rsplit(".", 1)[-1]
        if op == "Equal" and m.value:
            equal.append((m.name, m.value))
        elif op == "Re" and (values := literal_values(m.value)):
            alternatives.append((m.name, values))
    offset = node.offset.total_seconds() if node.offset is not None else 0.0
    return Read(node.name, tuple(equal), tuple(alternatives), range_s, offset, counter)


def reads(expr: str) -> list[Read]:
    """Every selector of `expr` with a metric name, in the order written."""
    out: list[Read] = []

    def visit(node: Any, range_s: float = 0.0, counter: bool = False) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                out.append(_read(node, range_s, counter))
        elif isinstance(node, promql_parser.MatrixSelector):
            visit(node.vector_selector, node.range.total_seconds(), counter)
        elif isinstance(node, promql_parser.Call):
            is_counter = node.func.name in COUNTER_FUNCTIONS
            for arg in node.args:
                visit(arg, range_s, counter or is_counter)
        elif isinstance(node, promql_parser.BinaryExpr):
            visit(node.lhs)
            visit(node.rhs)
        elif isinstance(node, promql_parser.SubqueryExpr):
            visit(node.expr, node.range.total_seconds() if node.range else 0.0, counter)
        elif isinstance(node, promql_parser.AggregateExpr | promql_parser.ParenExpr | promql_parser.UnaryExpr):
            visit(node.expr, range_s, counter)

    visit(parse(expr))
    return out


@dataclass(frozen=True)
class Comparison:
    left: str  # PromQL of the compared quantity
    op: str
    threshold: float


def simple_comparison(expr: str) -> Comparison | None:
    """`quantity OP number` (not `bool`), or None for anything else (`and`, `absent`)."""
    node = parse(expr)
    if not isinstance(node, promql_parser.BinaryExpr):
        return None
    op = str(node.op)
    if op not in COMPARISONS or not isinstance(node.rhs, promql_parser.NumberLiteral):
        return None
    if node.modifier is not None and getattr(node.modifier, "return_bool", False):
        return None
    return Comparison(str(node.lhs), op, float(node.rhs.val))
