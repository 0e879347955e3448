"""Lowering: the spec as it is in one environment (overrides applied, label sets
resolved, templates rendered) compiled into plain-data IR."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from rulesgen.errors import Diagnostic
from rulesgen.ir import Alert, EnvIR, RecordingRule
from rulesgen.kinds.base import KindRules, RawRead, union_matchers
from rulesgen.lower.alerts import AlertCompiler
from rulesgen.lower.dashboards import dashboards
from rulesgen.lower.groups import rule_groups
from rulesgen.lower.overrides import EnvAlert
from rulesgen.lower.routing import alertmanager_ir
from rulesgen.promql import Matcher, aggregate
from rulesgen.spec.validate import Document


def narrow_records(alerts: Sequence[Alert], rules: Sequence[KindRules]) -> tuple[Alert, ...]:
    """Recording rules that read raw metrics read only what their readers need.

    Each alert compiled its records with its own matchers (and filters the record
    again). Here a record that a finer record of the same family can feed (same metric
    and per-series expression, a superset of the labels kept) becomes
    `sum by (keep) (finer)`, and each record that still reads the raw metric selects
    the union of the matchers of every alert of the environment that reads it or a
    record derived from it. An alert that reads a derived record gets the finer record
    too, before it, so its own test rule file stays complete."""
    reads: dict[str, RawRead] = {}
    readers: dict[str, list[tuple[Matcher, ...]]] = defaultdict(list)
    for kind_rules in rules:
        for name, read in kind_rules.raw_reads:
            readers[name].append(read.matchers)
            reads.setdefault(name, read)
    base = {name: finest(name, reads) for name in reads}
    for name, root in base.items():
        if root != name:
            readers[root].extend(readers[name])
    exprs = {
        name: read.render(union_matchers(readers[name]))
        if base[name] == name
        else aggregate("sum", read.keep, base[name])
        for name, read in reads.items()
    }
    out = []
    for alert in alerts:
        records: list[RecordingRule] = []
        for rule in alert.records:
            root = base.get(rule.record, rule.record)
            for name in (root, rule.record):
                if name not in {r.record for r in records}:
                    records.append(RecordingRule(name, exprs.get(name, rule.expr), rule.labels))
        out.append(replace(alert, records=tuple(records)))
    return tuple(out)


def finest(name: str, reads: dict[str, RawRead]) -> str:
    """The record of `name`'s family that keeps the most labels, all of `name`'s among
    them (the first by name among equals), or `name` itself."""
    read = reads[name]
    candidates = [other for other, r in reads.items() if r.family == read.family and set(read.keep) < set(r.keep)]
    if not candidates:
        return name
    return min(candidates, key=lambda other: (-len(reads[other].keep), other))


def lower_env(
    doc: Document, env: str, alerts: Sequence[EnvAlert], compiler: AlertCompiler, errors: list[Diagnostic]
) -> EnvIR:
    """One environment's IR from its enabled alerts (already checked by lint)."""
    compiled = narrow_records(
        tuple(compiler.compile(env, alert, errors) for alert in alerts),
        [compiler.rules_of(alert.model) for alert in alerts],
    )
    header = doc.header
    return EnvIR(
        env=env,
        alerts=compiled,
        groups=rule_groups(tuple(header.teams), compiled, header.settings.evaluation_interval),
        labels=tuple(sorted(header.environments[env].labels.items())),
        alertmanager=alertmanager_ir(doc, env, compiled),
        dashboards=dashboards(env, compiled, header.settings.dashboards),
    )
