"""Domain dashboard queries must parse as PromQL (Grafana variables replaced) and read
declared metrics or generated recording rules: a typo would draw an empty panel."""

from collections.abc import Iterator
from typing import Any

from rulesgen.ir import RecordingRule
from rulesgen.lint import ERROR, PROGRAM, Finding, check
from rulesgen.lint.context import EnvContext, board_queries
from rulesgen.promql import panel_query


@check("RG122", "dashboard-query", ERROR, "a dashboard query does not parse or reads an unknown metric", PROGRAM)
def run(ctx: EnvContext) -> Iterator[Finding]:
    import promql_parser

    assert ctx.ir is not None
    header = ctx.doc.header
    known = set(header.metrics) | {f"{m}_bucket" for m, s in header.metrics.items() if s.type.value == "histogram"}
    known |= {r.record for g in ctx.ir.groups for r in g.rules if isinstance(r, RecordingRule)}
    for where, expr in board_queries(ctx.doc):
        try:
            ast = promql_parser.parse(panel_query(expr))
        except Exception as exc:  # the parser raises plain exceptions with its message
            yield Finding(where, f"PromQL does not parse: {exc}")
            continue
        names: list[str] = []

        def visit(node: Any, names: list[str] = names) -> None:
            if isinstance(node, promql_parser.VectorSelector) and node.name:
                names.append(node.name)

        promql_parser.walk(ast, visit)
        for name in names:
            if name not in known:
                yield Finding(where, f"unknown metric {name!r}: declare it under metrics")
    at = ("settings", "dashboards", "boards")
    for b, board in enumerate(header.settings.dashboards.boards):
        for v, variable in enumerate(board.variables):
            if variable.metric not in header.metrics:
                yield Finding((*at, b, "variables", v, "metric"), f"unknown metric {variable.metric!r}")


CHECK = run
