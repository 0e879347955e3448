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
from rulesgen.promql import Matcher
from rulesgen.spec.validate import Document


def narrow_records(alerts: Sequence[Alert], rules: Sequence[KindRules]) -> tuple[Alert, ...]:
    """Recording rules that read raw metrics select what their readers need: the union
    of the matchers of every alert of the environment that reads the record (each
    alert compiled its records with its own matchers, and filters the record again),
    so a shared record reads only the series some alert uses."""
    readers: dict[str, list[tuple[Matcher, ...]]] = defaultdict(list)
    reads: dict[str, RawRead] = {}
    for kind_rules in rules:
        for name, read in kind_rules.raw_reads:
            readers[name].append(read.matchers)
            reads.setdefault(name, read)
    exprs = {name: read.render(union_matchers(readers[name])) for name, read in reads.items()}
    return tuple(
        replace(
            alert,
            records=tuple(RecordingRule(r.record, exprs.get(r.record, r.expr), r.labels) for r in alert.records),
        )
        for alert in alerts
    )


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
        alertmanager=alertmanager_ir(doc, env),
        dashboards=dashboards(env, compiled, header.settings.dashboards),
    )
