"""`a or b` keeps the series of `b` only where `a` has none with the same labels: when
both sides return the same label set (`sum by (instance) (x) or sum by (instance) (y)`)
the right side is never drawn. Use two queries in the panel instead."""

from collections.abc import Iterator
from typing import Any

from rulesgen.lint import DOCUMENT, WARNING, Finding, check
from rulesgen.lint.context import DocContext, board_queries
from rulesgen.promql import panel_query


def _labels(node: Any) -> frozenset[str] | None:
    """The label set an aggregation returns (`by` labels), None when not known."""
    import promql_parser

    modifier = getattr(node, "modifier", None)
    if isinstance(node, promql_parser.AggregateExpr) and modifier is not None and str(modifier.type).endswith("By"):
        return frozenset(modifier.labels)
    if isinstance(node, promql_parser.ParenExpr):
        return _labels(node.expr)
    return None


def same_label_or(expr: str) -> bool:
    import promql_parser

    try:
        ast = promql_parser.parse(panel_query(expr))
    except Exception:  # RG122 reports what does not parse
        return False
    found: list[bool] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.BinaryExpr) and str(node.op).lower() in ("or", "tokentype.lor"):
            left, right = _labels(node.lhs), _labels(node.rhs)
            if left is not None and left == right:
                found.append(True)

    promql_parser.walk(ast, visit)
    return bool(found)


@check("RG123", "or-same-labels", WARNING, "`a or b` where both sides return the same labels", DOCUMENT)
def run(ctx: DocContext) -> Iterator[Finding]:
    for where, expr in board_queries(ctx.doc):
        if same_label_or(expr):
            message = "the right side of `or` is never shown: both sides return the same labels; use two queries"
            yield Finding(where, message)


CHECK = run
