"""Recording rules inlined into the expressions that read them, on promql-parser's AST:
the expanded PromQL `rulesgen explain` shows and backtesting queries.

`R{m}` becomes `(body of R)` with the matchers `m` pushed into every selector of the
body whose labels reach its result: not into the right side of `and`/`unless`, whose
series only gate the left side (`x and on() group(x offset 5m)` must keep asking
whether *any* series existed 5m ago).

When the alert and its records share a group and its interval, as rulesgen generates
them, the inlined expression at time t is the recorded series at t: a group
evaluates its rules in order at one timestamp, and a record that stops producing a
series is marked stale at once. No lookback can tell them apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from rulesgen.ir import EnvIR, RecordingRule

_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}
_GATES = ("land", "lunless", "and", "unless")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_SPACE = re.compile(r"\s+")
_PAREN_SPACE = re.compile(r"\( | \)")


class InlineError(ValueError):
    pass


def _parser() -> Any:
    import promql_parser

    return promql_parser


def _matcher(m: Any) -> str:
    op = _OPS[str(m.op).rsplit(".", 1)[-1]]
    return f"{m.name}{op}{json.dumps(m.value)}"


def _selector(node: Any, extra: list[Any]) -> Any:
    """`node` (a VectorSelector) with `extra` matchers added, as a new node."""
    p = _parser()
    own = [_matcher(m) for m in node.matchers.matchers]
    have = {(m.name, str(m.op), m.value) for m in node.matchers.matchers}
    more = [_matcher(m) for m in extra if (m.name, str(m.op), m.value) not in have]
    text = f"{node.name or ''}{{{','.join(own + more)}}}"
    if node.offset is not None:
        text += f" offset {p.display_duration(node.offset)}"
    if node.at is not None:
        raise InlineError(f"cannot inline a record read with @: {node.prettify()}")
    return p.parse(text)


def _flows(node: Any, out: list[bool], flowing: bool = True) -> None:
    """For every VectorSelector under `node`, in the order promql-parser walks them,
    whether its labels reach the result."""
    p = _parser()
    if isinstance(node, p.VectorSelector):
        out.append(flowing)
    elif isinstance(node, p.BinaryExpr):
        gate = str(node.op).rsplit(".", 1)[-1].lower() in _GATES
        _flows(node.lhs, out, flowing)
        _flows(node.rhs, out, flowing and not gate)
    elif isinstance(node, p.AggregateExpr):
        if node.param is not None and not isinstance(node.param, (int, float, str)):
            _flows(node.param, out, False)
        _flows(node.expr, out, flowing)
    elif isinstance(node, p.Call):
        for arg in node.args:
            _flows(arg, out, flowing)
    elif isinstance(node, p.MatrixSelector):
        _flows(node.vector_selector, out, flowing)
    elif hasattr(node, "expr"):  # parentheses, unary minus, subqueries
        _flows(node.expr, out, flowing)


def push(body: Any, matchers: list[Any]) -> Any:
    """`body` with `matchers` added to every selector whose labels reach its result."""
    if not matchers:
        return body
    p = _parser()
    flows: list[bool] = []
    _flows(body, flows)
    seen = 0

    def visit(node: Any) -> Any:
        nonlocal seen
        if not isinstance(node, p.VectorSelector):
            return None
        seen += 1
        return _selector(node, matchers) if flows[seen - 1] else None

    out = p.transform(body, visit)
    if seen != len(flows):
        raise InlineError(f"promql-parser walked {seen} selectors, expected {len(flows)}: {body.prettify()}")
    return out


def inline(expr: str, records: Mapping[str, RecordingRule]) -> str:
    """`expr` with every recording rule it reads replaced by its expression."""
    p = _parser()
    try:
        tree = p.parse(expr)
    except Exception as exc:  # the parser raises plain exceptions with its message
        raise InlineError(f"{expr}: {exc}") from None
    return one_line(_inline(tree, records, set()).prettify())


def one_line(pretty: str) -> str:
    """promql-parser's pretty form on one line: its line breaks and indents dropped
    outside string literals, whose spaces are label values."""
    out, at = [], 0
    for literal in _STRING.finditer(pretty):
        out += [_tidy(pretty[at : literal.start()]), literal.group()]
        at = literal.end()
    return "".join([*out, _tidy(pretty[at:])]).strip()


def _tidy(code: str) -> str:
    return _PAREN_SPACE.sub(lambda m: m.group().strip(), _SPACE.sub(" ", code))


def _inline(tree: Any, records: Mapping[str, RecordingRule], stack: set[str]) -> Any:
    p = _parser()

    def visit(node: Any) -> Any:
        if not isinstance(node, p.VectorSelector) or node.name not in records:
            return None
        rule = records[node.name]
        if rule.record in stack:
            raise InlineError(f"recording rule {rule.record} reads itself")
        if node.offset is not None or node.at is not None:
            raise InlineError(f"cannot inline {rule.record} read with offset or @")
        static = dict(rule.labels)
        keep = [m for m in node.matchers.matchers if m.name != "__name__" and m.name not in static]
        body = push(p.parse(rule.expr), keep)
        body = _inline(body, records, stack | {rule.record})
        return p.parse(f"({body.prettify()})")

    return p.transform(tree, visit)


def records_of(env: EnvIR) -> dict[str, RecordingRule]:
    return {r.record: r for g in env.groups for r in g.rules if isinstance(r, RecordingRule)}
