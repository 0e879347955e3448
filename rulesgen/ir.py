"""The internal model every emitter reads: frozen, fully resolved, one per environment.

No defaults, overrides or templates remain here; `lower` has applied them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rulesgen.promql import Duration

if TYPE_CHECKING:
    from rulesgen.kinds.base import AlertSpec
    from rulesgen.scenarios import Scenario
    from rulesgen.spec.models import DashboardSettings

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RecordingRule:
    record: str
    expr: str
    labels: Labels = ()


@dataclass(frozen=True)
class AlertRule:
    alert: str
    expr: str
    for_: Duration
    labels: Labels
    annotations: Labels
    keep_firing_for: Duration | None = None


Rule = RecordingRule | AlertRule


@dataclass(frozen=True)
class RuleGroup:
    name: str
    file: str
    interval: Duration
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Threshold:
    """What one alert rule compares, for dashboards, docs, diff and backtest."""

    value_expr: str  # the quantity, as a recording rule or plain PromQL
    op: str  # ">" or "<"
    value: float
    unit: str  # count | ratio | seconds | factor | bytes


@dataclass(frozen=True)
class CompiledAlert:
    """One spec alert in one environment, with every rule it produced."""

    name: str
    kind: str
    team: str
    severity: str
    spec: AlertSpec  # the alert after environment overrides
    records: tuple[RecordingRule, ...]
    rules: tuple[AlertRule, ...]  # burn-rate alerts produce one rule per tier
    thresholds: tuple[Threshold, ...]
    source_line: int
    scenarios: tuple[Scenario, ...] = ()


@dataclass(frozen=True)
class Route:
    receiver: str
    matchers: tuple[str, ...] = ()  # `label="value"`, Alertmanager's matcher syntax
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True)
class Receiver:
    name: str
    # (integration, settings) pairs, such as ("pagerduty_configs", (("routing_key_file", "/..."),))
    integrations: tuple[tuple[str, Labels], ...] = ()


@dataclass(frozen=True)
class InhibitRule:
    name: str
    source: tuple[str, ...]
    target: tuple[str, ...]
    equal: tuple[str, ...]


@dataclass(frozen=True)
class AlertmanagerIR:
    route: Route
    receivers: tuple[Receiver, ...]
    inhibit_rules: tuple[InhibitRule, ...]
    resolve_timeout: Duration
    group_by: tuple[str, ...]


@dataclass(frozen=True)
class EnvIR:
    env: str
    alerts: tuple[CompiledAlert, ...]
    groups: tuple[RuleGroup, ...]
    labels: Labels = ()
    alertmanager: AlertmanagerIR | None = None


@dataclass(frozen=True)
class ProgramIR:
    source: str  # the spec's file name, for headers
    envs: tuple[EnvIR, ...] = field(default_factory=tuple)
    dashboards: DashboardSettings | None = None

    def env(self, name: str) -> EnvIR:
        for env in self.envs:
            if env.env == name:
                return env
        raise KeyError(name)
