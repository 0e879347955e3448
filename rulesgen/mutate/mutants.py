"""The mutants of an alert: every operator on every rule of its closure (its alerting
rules and the recording rules they read), each marked equivalent where a proof from
the rules alone says it cannot change the alert (see rulesgen.equivalence)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from rulesgen.equivalence import Closure, for_mutant_equivalent, guard_drop_equivalent, matcher_drop_equivalent
from rulesgen.mutate.operators import Expr, Units, expr_mutants, parses
from rulesgen.promql import Duration
from rulesgen.verify.closure import ClosureGroup
from rulesgen.verify.promtool import AlertResult

# ---------------------------------------------------------------------------
# Equivalence


def _normalized(expr: str) -> str | None:
    tree = parses(expr)
    return None if tree is None else str(tree.prettify())


def _record_groupings(closure: Iterable[ClosureGroup]) -> dict[str, frozenset[str]]:
    """Recording rules defined once as an aggregation `by (L)`: record -> L."""
    import promql_parser

    seen: dict[str, int] = {}
    grouping: dict[str, frozenset[str]] = {}
    for group in closure:
        for rule in group.rules:
            if "record" not in rule:
                continue
            name = str(rule["record"])
            seen[name] = seen.get(name, 0) + 1
            tree = parses(str(rule.get("expr", "")))
            modifier = getattr(tree, "modifier", None) if isinstance(tree, promql_parser.AggregateExpr) else None
            if modifier is not None and modifier.type == promql_parser.AggModifierType.By:
                grouping[name] = frozenset(modifier.labels)
            elif isinstance(tree, promql_parser.AggregateExpr) and modifier is None:
                grouping[name] = frozenset()
    return {name: labels for name, labels in grouping.items() if seen[name] == 1}


def _one_series_per_group(expr: str, at: int, groupings: Mapping[str, frozenset[str]]) -> bool:
    """Whether the `sum` at token `at` is `sum [by (M)] (R{...})` with every group
    provably one series of the recording rule R."""
    try:
        e = Expr(expr)
    except ValueError:
        return False
    for i in (at,):
        if not e.is_(i, "ident", "sum"):
            continue
        outer: set[str] = set()
        k = i + 1
        if e.is_(k, "ident", "by") and e.is_(k + 1, "punct", "("):
            outer = {t.text for t in e.tokens[k + 2 : e.pair[k + 1]] if t.kind == "ident"}
            k = e.pair[k + 1] + 1
        if not e.is_(k, "punct", "("):
            continue
        close = e.pair[k]
        inner = e.tokens[k + 1 : close]
        if not inner or inner[0].kind != "ident" or inner[0].text not in groupings:
            continue
        fixed: set[str] = set()
        if len(inner) > 1:
            if inner[1].text != "{" or e.pair[k + 2] != close - 1:
                continue
            fixed = {
                inner[n].text
                for n in range(2, len(inner) - 2)
                if inner[n].kind == "ident" and inner[n + 1].text == "=" and inner[n + 2].kind == "string"
            }
        if groupings[inner[0].text] - fixed <= outer:
            return True
    return False


# ---------------------------------------------------------------------------
# Mutants of an alert's rules


@dataclass
class Mutant:
    """One mutation of one rule in an alert's closure, and what the tests made of it."""

    env: str
    alert: str
    operator: str
    rule: str  # `alert Name` or `record name`
    field: str  # expr | for
    before: str
    after: str
    explanation: str
    status: str = "pending"  # killed | survived | equivalent | invalid | error
    result: AlertResult | None = None
    killed_by: tuple[str, ...] = ()  # the scenarios that failed


def _rule_name(rule: Mapping[str, Any]) -> str:
    return f"alert {rule['alert']}" if "alert" in rule else f"record {rule.get('record', '?')}"


@dataclass(frozen=True)
class RuleMutation:
    operator: str
    field: str  # expr | for
    before: str
    after: str  # "" drops the field
    explanation: str
    at: int = -1


def rule_mutations(rule: Mapping[str, Any], units: Units = ()) -> list[RuleMutation]:
    """Every mutation of one rule: its expression's, and its `for` halved, doubled, dropped."""
    expr = str(rule.get("expr", ""))
    out = [
        RuleMutation(m.operator, "expr", expr, m.expr, m.explanation, m.at)
        for m in expr_mutants(expr, units if "alert" in rule else ())
    ]
    if "alert" in rule and rule.get("for"):
        before = str(rule["for"])
        ms = Duration.parse(before).ms
        if ms:
            out += [
                RuleMutation(
                    "for-halved",
                    "for",
                    before,
                    str(Duration(ms // 2)),
                    "no check that it is still pending at half its `for`",
                ),
                RuleMutation(
                    "for-doubled",
                    "for",
                    before,
                    str(Duration(ms * 2)),
                    "no check that it fires as soon as `for` has elapsed",
                ),
                RuleMutation(
                    "for-dropped", "for", before, "", "no check that a breach shorter than `for` stays silent"
                ),
            ]
    return out


def _mutated(closure: list[ClosureGroup], g: int, r: int, field: str, after: str) -> list[ClosureGroup]:
    rule = dict(closure[g].rules[r])
    if field == "for" and not after:
        rule.pop("for", None)
    else:
        rule[field] = after
    rules = (*closure[g].rules[:r], rule, *closure[g].rules[r + 1 :])
    return [*closure[:g], replace(closure[g], rules=rules), *closure[g + 1 :]]


def alert_mutants(
    env: str, alert: str, closure: list[ClosureGroup], units: Units = ()
) -> list[tuple[Mutant, list[ClosureGroup]]]:
    """Every mutant of an alert's closure with the closure it makes; equivalent ones marked."""
    groupings = _record_groupings(closure)
    parsed = Closure(rule for group in closure for rule in group.rules)
    out: list[tuple[Mutant, list[ClosureGroup]]] = []
    for g, group in enumerate(closure):
        for r, rule in enumerate(group.rules):
            for m in rule_mutations(rule, units):
                mutant = Mutant(env, alert, m.operator, _rule_name(rule), m.field, m.before, m.after, m.explanation)
                proof = _equivalence(m, rule, group, parsed, groupings)
                if proof is not None:
                    mutant.status, mutant.explanation = "equivalent", proof
                out.append((mutant, _mutated(closure, g, r, m.field, m.after)))
    return out


def _equivalence(
    m: RuleMutation,
    rule: Mapping[str, Any],
    group: ClosureGroup,
    closure: Closure,
    groupings: Mapping[str, frozenset[str]],
) -> str | None:
    """Why the mutant cannot change the alert, or None (see rulesgen.equivalence)."""
    if m.field == "for":
        return for_mutant_equivalent(m.before, m.after, group.interval) if m.operator != "for-dropped" else None
    if _normalized(m.before) == _normalized(m.after):
        return "the same expression after normalization"
    if m.operator.startswith("sum-to-") and _one_series_per_group(m.before, m.at, groupings):
        return "every group is one series of a recording rule: sum, max, min, avg agree"
    if m.operator == "denominator-guard-dropped":
        return guard_drop_equivalent(m.before, rule, closure)
    if m.operator in ("matcher-dropped", "regex-alternative-removed"):
        return matcher_drop_equivalent(m.before, m.after, rule, closure)
    return None
