"""Lowering: the spec as it is in one environment (overrides applied, label sets
resolved, templates rendered) compiled into plain-data IR."""

from __future__ import annotations

from collections.abc import Sequence

from rulesgen.errors import Diagnostic
from rulesgen.ir import EnvIR
from rulesgen.lower.alerts import AlertCompiler
from rulesgen.lower.dashboards import dashboards
from rulesgen.lower.groups import rule_groups
from rulesgen.lower.overrides import EnvAlert
from rulesgen.lower.routing import alertmanager_ir
from rulesgen.spec.validate import Document


def lower_env(
    doc: Document, env: str, alerts: Sequence[EnvAlert], compiler: AlertCompiler, errors: list[Diagnostic]
) -> EnvIR:
    """One environment's IR from its enabled alerts (already checked by lint)."""
    compiled = tuple(compiler.compile(env, alert, errors) for alert in alerts)
    header = doc.header
    return EnvIR(
        env=env,
        alerts=compiled,
        groups=rule_groups(tuple(header.teams), compiled, header.settings.evaluation_interval),
        labels=tuple(sorted(header.environments[env].labels.items())),
        alertmanager=alertmanager_ir(doc, env),
        dashboards=dashboards(env, compiled, header.settings.dashboards),
    )
