"""Rules scoped to one environment on a shared query layer.

Thanos Ruler and the Mimir ruler evaluate rules against a query layer that holds every
cluster's series, told apart by external labels (`env`, `cluster`). Prometheus rules
select raw metrics without them, so on a global layer a prod rule sums staging's
traffic too. A target's `scope` adds `label="value"` matchers to every raw selector of
every rule (recording rules' inputs, `up`, alert expressions that read raw metrics);
selectors of the environment's own recording rules are left alone, since the records
are already scoped. The PromQL is rewritten on promql-parser's tree, never as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import promql_parser

from rulesgen.ir import AlertRule, EnvIR, ProgramIR, RecordingRule, Rule
from rulesgen.promql import escape_string

ENV_PLACEHOLDER = "{env}"


def scoped_program(program: ProgramIR, scope: Mapping[str, str]) -> ProgramIR:
    """`program` with `scope` (values may say `{env}`) matched by every raw selector."""
    if not scope:
        return program
    return replace(program, envs=tuple(_scoped_env(env, scope) for env in program.envs))


def _scoped_env(env: EnvIR, scope: Mapping[str, str]) -> EnvIR:
    matchers = {label: value.replace(ENV_PLACEHOLDER, env.env) for label, value in sorted(scope.items())}
    records = {r.record for g in env.groups for r in g.rules if isinstance(r, RecordingRule)}
    groups = tuple(replace(g, rules=tuple(_scoped_rule(r, matchers, records) for r in g.rules)) for g in env.groups)
    return replace(env, groups=groups)


def _scoped_rule(rule: Rule, matchers: Mapping[str, str], records: set[str]) -> Rule:
    expr = scoped_expr(rule.expr, matchers, records)
    if isinstance(rule, AlertRule | RecordingRule):
        return replace(rule, expr=expr)
    return rule


def scoped_expr(expr: str, matchers: Mapping[str, str], records: set[str]) -> str:
    """`expr` with `matchers` added to each selector of a metric not in `records` (a
    selector that already constrains one of those labels keeps its own matcher)."""

    changed = False

    def visit(node: promql_parser.Expr) -> promql_parser.Expr | None:
        nonlocal changed
        if not isinstance(node, promql_parser.VectorSelector) or node.name in records:
            return None
        own = [str(m) for m in node.matchers.matchers if m.name != "__name__"]
        constrained = {m.name for m in node.matchers.matchers}
        added = [f"{k}={escape_string(v)}" for k, v in matchers.items() if k not in constrained]
        if not added:
            return None
        text = f"{node.name or ''}{{{', '.join([*own, *added])}}}"
        if node.offset is not None:
            text += f" offset {promql_parser.display_duration(node.offset)}"
        changed = True
        return promql_parser.parse(text)

    scoped = str(promql_parser.transform(promql_parser.parse(expr), pre_visit=visit))
    # promql-parser prints durations without their milliseconds (`[1h59m59s999ms:1h]`
    # comes out as `[1h59m59s:1h]`): an expression with nothing to scope keeps its text.
    return scoped if changed else expr
