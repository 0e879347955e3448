"""The compiled program as plain frozen data: what every target, `explain`, `diff` and
backtesting read.

Nothing here knows the spec models or the alert kinds (a test asserts this module
imports neither): defaults, overrides and templates are applied, label sets are
resolved, and each alert carries its condition as a small tree that can be
re-evaluated on recorded history without the rest of the compiler.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import product

from rulesgen.promql import Duration, Matcher, selector

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Origin:
    """Where something was written in the spec (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Selector:
    """A metric and the matchers an alert reads it with."""

    metric: str
    matchers: tuple[Matcher, ...] = ()

    def __str__(self) -> str:
        return selector(self.metric, self.matchers)


# --- conditions ---------------------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    """A number per series that a rule compares: what a dashboard plots and a backtest
    evaluates. `expr` may read recording rules (`rulesgen explain` expands them)."""

    expr: str
    unit: str  # count | ratio | factor | seconds | bytes
    what: str  # in words, for explain and docs
    function: str = ""  # increase | rate | ratio | quantile_ratio | quantile | gauge
    window: Duration | None = None


@dataclass(frozen=True)
class Compare:
    """`quantity op value`. `param` names the spec field the value comes from
    (`threshold`, `floor`, `tiers[0].factor`), so a what-if can move it."""

    quantity: Quantity
    op: str  # > < >= <=
    value: float
    param: str = "threshold"
    # The spec field's value as the spec writes it (`14.4`, `0.2`, `100ms`), which may
    # not be `value`: a burn factor of 14.4 compares the error ratio 0.144, a latency
    # threshold of 0.2 the ratio 1.2. Empty when the field is not a number or duration.
    written: str = ""


@dataclass(frozen=True)
class All:
    """Every condition holds for the same series (PromQL `and`)."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Absent:
    """No series matches `selector` (PromQL `absent`). With `per`, one absence for each
    combination of the values the selector's matchers name on those labels, each
    carrying them (`absent(x{network="polygon"}) or absent(x{network="arbitrum"})`);
    with `window`, a series counts as there for that long after its last sample, failed
    scrapes included (`absent_over_time(x[window])`)."""

    selector: Selector
    what: str
    window: Duration | None = None
    per: tuple[str, ...] = ()

    def scopes(self) -> tuple[Labels, ...]:
        """Each combination of `per` values this absence watches (one, empty, without `per`)."""
        named = [[(m.label, v) for v in m.values] for m in self.selector.matchers if m.label in self.per]
        return tuple(tuple(combo) for combo in product(*named))


Condition = Compare | All | Absent


def leaves(condition: Condition) -> Iterator[Compare | Absent]:
    """The comparisons and absences of a condition tree, left to right."""
    if isinstance(condition, All):
        for part in condition.conditions:
            yield from leaves(part)
    else:
        yield condition


def param_path(param: str) -> tuple[str | int, ...]:
    """A comparison's `param` as a spec path: `tiers[0].factor` -> ("tiers", 0, "factor")."""
    return tuple(int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", param))


def compares(condition: Condition) -> tuple[Compare, ...]:
    return tuple(leaf for leaf in leaves(condition) if isinstance(leaf, Compare))


# --- rules --------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordingRule:
    record: str
    expr: str
    labels: Labels = ()


@dataclass(frozen=True)
class ErrorBudget:
    """The error budget a burn-rate rule guards: the SLO allows an error ratio of
    `1 - objective` over `period`; `window` is the rule's long window, whose error ratio
    tells how much of the budget a burn has used when the rule fires."""

    objective: float
    period: Duration
    window: Duration

    def consumed(self, error_ratio: float) -> float:
        """The share of the period's budget the errors of `window` used, at that
        window's traffic: burn rate x window / period (14.4 x 1h / 30d = 2%)."""
        return error_ratio / (1 - self.objective) * self.window.ms / self.period.ms


@dataclass(frozen=True)
class AlertRule:
    """One Prometheus alerting rule; burn-rate alerts have one per tier."""

    alert: str
    expr: str
    for_: Duration
    labels: Labels
    annotations: Labels
    condition: Condition
    keep_firing_for: Duration | None = None
    budget: ErrorBudget | None = None  # a burn-rate tier's

    @property
    def severity(self) -> str:
        return dict(self.labels)["severity"]


Rule = RecordingRule | AlertRule


@dataclass(frozen=True)
class RuleGroup:
    name: str
    file: str
    interval: Duration
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class PanelRef:
    """The dashboard panel that plots an alert's quantity."""

    dashboard_uid: str
    panel_id: int
    url: str


@dataclass(frozen=True)
class Alert:
    """One spec alert in one environment, with every rule it produced."""

    name: str
    env: str
    kind: str
    team: str
    severity: str
    for_: Duration
    grouping: tuple[str, ...]  # labels it fires per
    result_labels: tuple[str, ...]  # labels its expression's results carry (what templates may read)
    reads: tuple[Selector, ...]
    records: tuple[RecordingRule, ...]
    rules: tuple[AlertRule, ...]
    origin: Origin
    summary: str  # as written, before rulesgen's `[[ ]]` substitution
    runbook_url: str | None = None
    panel: PanelRef | None = None
    keep_firing_for: Duration | None = None

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return tuple(rule.condition for rule in self.rules)


# --- routing ------------------------------------------------------------------------


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


# --- dashboards ---------------------------------------------------------------------


@dataclass(frozen=True)
class PanelQuery:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class ThresholdStep:
    color: str
    value: float | None  # None: the base step


@dataclass(frozen=True)
class Panel:
    id: int
    title: str
    description: str
    type: str  # timeseries | stat
    unit: str
    width: int
    queries: tuple[PanelQuery, ...]
    thresholds: tuple[ThresholdStep, ...] = ()


@dataclass(frozen=True)
class Variable:
    """A query variable listing the values of `label` on `metric`."""

    name: str
    label: str
    metric: str


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    tags: tuple[str, ...]
    panels: tuple[Panel, ...]
    variables: tuple[Variable, ...] = ()
    links: tuple[Link, ...] = ()


# --- programs -----------------------------------------------------------------------


@dataclass(frozen=True)
class EnvIR:
    env: str
    alerts: tuple[Alert, ...]
    groups: tuple[RuleGroup, ...]
    labels: Labels = ()
    alertmanager: AlertmanagerIR | None = None
    dashboards: tuple[Dashboard, ...] = ()

    def alert(self, name: str) -> Alert:
        for alert in self.alerts:
            if alert.name == name:
                return alert
        raise KeyError(name)


@dataclass(frozen=True)
class MetricDecl:
    """A metric of the spec's catalog, for checks against a live server."""

    name: str
    type: str  # counter | gauge | histogram | ...
    labels: tuple[str, ...]
    origin: Origin


@dataclass(frozen=True)
class LabelSetDecl:
    """A label set: the values alerts select and the known values outside it."""

    name: str
    label: str
    values: tuple[str, ...]
    others: tuple[str, ...]
    origin: Origin


@dataclass(frozen=True)
class ProgramIR:
    source: str  # the spec's file name, for headers
    envs: tuple[EnvIR, ...] = field(default_factory=tuple)
    metrics: tuple[MetricDecl, ...] = ()
    label_sets: tuple[LabelSetDecl, ...] = ()
    spec_sha256: str = ""

    def env(self, name: str) -> EnvIR:
        for env in self.envs:
            if env.env == name:
                return env
        raise KeyError(name)


# --- generated tests ----------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedAlert:
    labels: Labels  # without alertname, as promtool's exp_labels
    annotations: Labels  # templates expanded as Prometheus would


@dataclass(frozen=True)
class Check:
    """At `eval_time` exactly these alerts fire (none: silent)."""

    eval_time: Duration
    expected: tuple[ExpectedAlert, ...]


@dataclass(frozen=True, slots=True)
class Run:
    """`count` consecutive samples `start + delta * k` (k = 0, 1, ...), each exact as a
    double. `start` None: `count` scrapes with no sample; NaN: a staleness marker (a
    failed scrape), one per run. Series of thousands of samples are a few runs: an idle
    counter is one, a week of a latency baseline a handful."""

    start: float | None
    delta: float
    count: int


@dataclass(frozen=True)
class InputSeries:
    """One input series of a scenario: its samples, one per interval from time 0, as runs."""

    metric: str
    labels: Labels
    # The runs packed three doubles each (start, delta, count; a run of missing samples
    # is (0, 0, -count)): a suite of thousands of alerts holds millions of runs, which
    # as objects would cost several times the memory.
    packed: array[float]

    @property
    def runs(self) -> tuple[Run, ...]:
        return tuple(unpack_runs(self.packed))

    def samples(self) -> list[float | None]:
        out: list[float | None] = []
        for run in self.runs:
            if run.start is None:
                out += [None] * run.count
            else:
                out += [run.start + run.delta * k for k in range(run.count)]
        return out


def unpack_runs(packed: array[float]) -> Iterator[Run]:
    for start, delta, count in zip(packed[0::3], packed[1::3], packed[2::3], strict=True):
        yield Run(None, 0.0, int(-count)) if count < 0 else Run(start, delta, int(count))


@dataclass(frozen=True)
class Scenario:
    name: str
    purpose: str  # healthy, breach, short_breach, recovery, label_scope, no_data, example, ...
    interval: Duration  # sample interval of the input series
    series: tuple[InputSeries, ...]
    checks: tuple[Check, ...]
    # Rule evaluation interval of this scenario (promtool sets it per test file, so
    # scenarios of another interval go to a file of their own); the alert's by default.
    evaluation_interval: Duration | None = None

    @property
    def fires(self) -> bool:
        return any(c.expected for c in self.checks)

    @property
    def silent(self) -> bool:
        return any(not c.expected for c in self.checks)


@dataclass(frozen=True)
class AlertTests:
    """Every generated scenario of one alert in one environment."""

    env: str
    alert: str
    evaluation_interval: Duration
    scenarios: tuple[Scenario, ...]


@dataclass(frozen=True)
class TestSuite:
    __test__ = False  # a data class, not a pytest test class

    tests: tuple[AlertTests, ...] = ()

    def __iter__(self) -> Iterator[AlertTests]:
        return iter(self.tests)

    def of(self, env: str) -> tuple[AlertTests, ...]:
        return tuple(t for t in self.tests if t.env == env)
