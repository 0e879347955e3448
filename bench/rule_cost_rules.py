"""The rule sets of bench/bench_rule_cost.py: loading, the like-for-like selection, and
the check that the naive baseline is fair (the spec's alerts, with the spec's matchers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Rule = dict[str, Any]

# The like-for-like selection, applied alike to both sets: every alert but the burn rate,
# the contract events and the absence alert, with the recording rules they read.
CORE_ALERTS = frozenset(
    {
        "BillingTransactionsFailing",
        "BillingTransactionFailureRatioHigh",
        "BillingPendingBacklog",
        "BillingMainnetNetworkFailures",
        "BillingSubscriptionChurnHigh",
        "ApiLatencyRegression",
        "NodeCacheHitRatioLow",
        "RedisMemoryHigh",
    }
)

QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
# Fields of the spec's alert kinds that name a metric and its matchers.
TERM_FIELDS = ("numerator", "denominator", "errors", "total")


@dataclass
class RuleSet:
    name: str
    groups: list[dict[str, Any]]

    def rules(self) -> list[Rule]:
        return [r for g in self.groups for r in g["rules"]]

    def record_names(self) -> set[str]:
        return {str(r["record"]) for r in self.rules() if "record" in r}


def load_rules(paths: list[Path]) -> list[dict[str, Any]]:
    """The groups of Prometheus rule files; SystemExit with a one-line reason when a
    file cannot be read or is not a rule file."""
    groups: list[dict[str, Any]] = []
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise SystemExit(f"{path}: {' '.join(str(exc).split())}") from None
        found = doc.get("groups") if isinstance(doc, dict) else None
        if not isinstance(found, list) or not all(
            isinstance(g, dict)
            and isinstance(g.get("rules"), list)
            and all(isinstance(r, dict) and "expr" in r for r in g["rules"])
            for g in found
        ):
            raise SystemExit(f"{path}: not a Prometheus rule file (groups of rules, each with an expr)")
        groups.extend(found)
    return groups


def names_read(expr: str) -> set[str]:
    """Identifiers in a PromQL expression outside string literals (a superset of the
    metric names it reads, which is enough to find the recording rules it reads)."""
    return set(IDENT.findall(QUOTED.sub("", expr)))


def reads_records(rule: Rule, records: set[str]) -> bool:
    return bool(names_read(str(rule["expr"])) & records)


def select(groups: list[dict[str, Any]], alerts: frozenset[str]) -> list[dict[str, Any]]:
    """The alerts named, and every recording rule they read directly or through other
    recording rules, in their original groups and order."""
    records = {r["record"]: str(r["expr"]) for g in groups for r in g["rules"] if "record" in r}
    needed: set[str] = set()
    todo = [str(r["expr"]) for g in groups for r in g["rules"] if r.get("alert") in alerts]
    while todo:
        for name in names_read(todo.pop()) & records.keys() - needed:
            needed.add(name)
            todo.append(records[name])
    out = []
    for g in groups:
        rules = [r for r in g["rules"] if r.get("alert") in alerts or r.get("record") in needed]
        if rules:
            out.append({**g, "rules": rules})
    return out


def rule_label(rule: Rule) -> str:
    labels = rule.get("labels") or {}
    name = str(rule.get("alert") or rule.get("record") or "?")
    if "long_window" in labels:  # the burn-rate tiers share one alert name
        name += f" [{labels['long_window']}/{labels.get('short_window', '')}]"
    return name


# --- fairness of the naive set ----------------------------------------------------------

Constraint = dict[str, frozenset[str]]  # label -> the values a selector accepts


def spec_terms(spec: dict[str, Any], alert: dict[str, Any]) -> dict[str, list[Constraint | None]]:
    """For each metric an alert reads, the label constraints of each term reading it
    (None where a matcher excludes values: `{not: ...}`, `{not_set: ...}`, as
    `selector_constraints` reads a negated matcher)."""
    sets = {name: ls["values"] for name, ls in (spec.get("label_sets") or {}).items()}

    def constraint(matchers: dict[str, Any] | None) -> Constraint | None:
        out: Constraint = {}
        for label, value in (matchers or {}).items():
            if isinstance(value, dict) and "set" not in value:
                return None
            if isinstance(value, dict):
                value = sets[value["set"]]
            out[label] = frozenset([value] if isinstance(value, str) else value)
        return out

    terms: dict[str, list[Constraint | None]] = {}
    if "metric" in alert:
        terms.setdefault(alert["metric"], []).append(constraint(alert.get("matchers")))
    for name in TERM_FIELDS:
        value = alert.get(name)
        for term in value if isinstance(value, list) else [value] if value else []:
            terms.setdefault(term["metric"], []).append(constraint(term.get("matchers")))
    return terms


def selector_constraints(expr: str) -> list[tuple[str, Constraint | None]]:
    """Each selector's metric and the values it accepts per label (None when a matcher
    is not a finite list of values)."""
    import promql_parser

    found: list[tuple[str, Constraint | None]] = []

    def visit(node: Any) -> None:
        if not isinstance(node, promql_parser.VectorSelector) or not node.name:
            return
        out: Constraint | None = {}
        for m in node.matchers.matchers:
            op = str(m.op)
            if m.name == "__name__":
                continue
            if out is None or "Not" in op:
                out = None
                continue
            out[m.name] = frozenset(str(m.value).split("|") if op.endswith("Re") else [str(m.value)])
        found.append((str(node.name), out))

    try:
        ast = promql_parser.parse(expr)
    except Exception as exc:  # the parser raises plain exceptions with its message
        raise SystemExit(f"PromQL does not parse: {' '.join(str(exc).split())}: {expr}") from None
    promql_parser.walk(ast, visit)
    return found


def unfair_selectors(rule: Rule, terms: dict[str, list[Constraint | None]]) -> list[str]:
    """Selectors of `rule` whose matchers are not those of one of the spec's terms for
    their metric: reading more series than the spec (or fewer) is not like for like."""
    bad = []
    for metric, got in selector_constraints(str(rule["expr"])):
        base = metric.removesuffix("_bucket") if metric not in terms else metric
        if got not in terms.get(base, [got]):
            bad.append(f"{metric}{dict(sorted((k, sorted(v)) for k, v in (got or {}).items()))}")
    return bad


def spec_mismatch(naive: list[dict[str, Any]], spec_path: Path) -> str:
    """Why `naive` is not a fair baseline of the spec ('' when it is): its alerts must be
    exactly the spec's, each selector with the matchers the spec declares."""
    spec = yaml.safe_load(spec_path.read_text())
    alerts = {a["name"]: a for a in spec["alerts"]}
    rules = [r for g in naive for r in g["rules"]]
    have = {str(r["alert"]) for r in rules if "alert" in r}
    problems = []
    if missing := sorted(alerts.keys() - have):
        problems.append(f"missing {', '.join(missing)}")
    if extra := sorted(have - alerts.keys()):
        problems.append(f"not in the spec {', '.join(extra)}")
    if records := [str(r["record"]) for r in rules if "record" in r]:
        problems.append(f"recording rules {', '.join(records)}")
    if outside := sorted(CORE_ALERTS - alerts.keys()):
        problems.append(f"like-for-like alerts not in the spec {', '.join(outside)}")
    for rule in rules:
        if str(rule.get("alert")) in alerts:
            try:
                unfair = unfair_selectors(rule, spec_terms(spec, alerts[str(rule["alert"])]))
            except SystemExit as exc:
                raise SystemExit(f"{rule['alert']}: {exc}") from None
            for selector in unfair:
                problems.append(f"{rule['alert']} reads {selector}, not the spec's matchers")
    return "; ".join(dict.fromkeys(problems))
