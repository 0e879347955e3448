"""An alert's condition tree on queried history: each quantity is queried once, compared
in Python (so a what-if moves a number without a new query), and the result runs
through the shared alert state machine."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from rulesgen.backtest.source import Matrix
from rulesgen.ir import (
    Absent,
    Alert,
    AlertRule,
    All,
    Compare,
    Condition,
    EnvIR,
    Labels,
    RecordingRule,
    compares,
    leaves,
)
from rulesgen.model.alertstate import Firing, Group, alert_states
from rulesgen.model.comparisons import OPS
from rulesgen.promql import Duration, by_clause
from rulesgen.promql_inline import inline, records_of

TRANSIENT_S = 300
FLAP_CHANGES, FLAP_WINDOW = 4, 20

Query = Callable[[str], Matrix]  # an expression -> its values at every step


@dataclass(frozen=True)
class Episode:
    labels: Labels  # the alert's full labels: alertname, rule labels, result labels
    pending: int  # unix seconds
    firing: int
    resolved: int | None  # None: still firing at the end of the range
    # For a burn-rate tier: the share of the SLO period's error budget its long window's
    # errors had used when it fired (`ErrorBudget.consumed`).
    budget: float | None = None

    def firing_s(self, end: int) -> int:
        return (self.resolved if self.resolved is not None else end) - self.firing


@dataclass
class AlertRun:
    env: str
    alert: str
    step: int
    start: int
    end: int
    episodes: list[Episode] = field(default_factory=list)
    flapping: list[Labels] = field(default_factory=list)
    # Each comparison of the condition tree with the values it compared (for plots).
    compared: list[tuple[Compare, Matrix]] = field(default_factory=list)

    @property
    def firings(self) -> int:
        return len(self.episodes)

    @property
    def firing_s(self) -> int:
        return sum(e.firing_s(self.end) for e in self.episodes)

    @property
    def transient(self) -> int:
        return sum(1 for e in self.episodes if e.resolved is not None and e.firing_s(self.end) < TRANSIENT_S)


def leaf_expr(leaf: Compare | Absent, records: Mapping[str, RecordingRule]) -> str:
    """What to query for a leaf: the quantity with records inlined, or the presence of
    an absence alert's selector."""
    if isinstance(leaf, Absent):
        read = f"count_over_time({leaf.selector}[{leaf.window}])" if leaf.window else str(leaf.selector)
        return f"count{by_clause(leaf.per)}({read})"
    return inline(leaf.quantity.expr, records)


def group_interval(env: EnvIR, alert: Alert) -> Duration:
    names = {r.alert for r in alert.rules}
    for group in env.groups:
        if any(getattr(r, "alert", None) in names for r in group.rules):
            return group.interval
    raise KeyError(alert.name)


Data = Mapping[Compare | Absent, Matrix]


def holds(condition: Condition, data: Data, steps: Sequence[int]) -> list[Group]:
    """The samples the condition's expression returns at each step."""
    if isinstance(condition, All):
        parts = [holds(c, data, steps) for c in condition.conditions]
        return [
            {k: v for k, v in first.items() if all(k in p[i] for p in parts[1:])} for i, first in enumerate(parts[0])
        ]
    matrix = data[condition]
    if isinstance(condition, Absent):
        return absences(condition, matrix, steps)
    op, value = OPS[condition.op], condition.value
    out: list[Group] = [{} for _ in steps]
    for labels, series in matrix.items():
        for i, ts in enumerate(steps):
            sample = series.get(ts)
            if sample is not None and not math.isnan(sample) and op(sample, value):
                out[i][labels] = sample
    return out


def absences(condition: Absent, matrix: Matrix, steps: Sequence[int]) -> list[Group]:
    """What `absent` returns at each step: per watched scope with no series, that scope's
    labels (without `per`, the selector's equality matchers')."""
    fixed = tuple(
        sorted((m.label, m.values[0]) for m in condition.selector.matchers if len(m.values) == 1 and not m.negate)
    )
    out: list[Group] = [{} for _ in steps]
    for scope in condition.scopes():
        present = [series for labels, series in matrix.items() if set(scope) <= set(labels)]
        for i, ts in enumerate(steps):
            if not any(ts in series for series in present):
                out[i][scope if condition.per else fixed] = 1.0
    return out


def run_alert(
    env: EnvIR,
    alert: Alert,
    query: Query,
    start: int,
    end: int,
) -> AlertRun:
    """Episodes of `alert` between `start` and `end`."""
    records = records_of(env)
    step = group_interval(env, alert).ms // 1000
    first = start + (-start) % step
    steps = list(range(first, end + 1, step))
    data = {leaf: query(leaf_expr(leaf, records)) for rule in alert.rules for leaf in leaves(rule.condition)}
    per_rule = [holds(rule.condition, data, steps) for rule in alert.rules]
    truth = [list(at_step) for at_step in zip(*per_rule, strict=True)]
    states = alert_states(truth, [rule.for_ for rule in alert.rules], alert.keep_firing_for, Duration(step * 1000))
    run = AlertRun(env.env, alert.name, step, first, steps[-1] if steps else first)
    run.episodes = _episodes(alert, truth, states, steps, data)
    run.flapping = _flapping(alert, states)
    seen: set[Compare] = set()
    for leaf, matrix in data.items():
        if isinstance(leaf, Compare) and leaf not in seen:
            seen.add(leaf)
            run.compared.append((leaf, matrix))
    return run


def full_labels(alert: Alert, variant: int, result: Labels) -> Labels:
    labels = {**dict(result), **dict(alert.rules[variant].labels), "alertname": alert.name}
    return tuple(sorted(labels.items()))


def _episodes(
    alert: Alert, truth: list[list[Group]], states: list[list[Firing]], steps: list[int], data: Data
) -> list[Episode]:
    open_: dict[tuple[int, Labels], int] = {}
    out: list[Episode] = []
    for i, firing in enumerate(states):
        now = {(f.variant, f.labels) for f in firing}
        for key in sorted(now - open_.keys()):
            open_[key] = i
        for key in sorted(open_.keys() - now):
            out.append(_episode(alert, truth, data, steps, key, open_.pop(key), steps[i]))
    for key, since in sorted(open_.items()):
        out.append(_episode(alert, truth, data, steps, key, since, None))
    return sorted(out, key=lambda e: (e.firing, e.labels))


def _episode(
    alert: Alert,
    truth: list[list[Group]],
    data: Data,
    steps: list[int],
    key: tuple[int, Labels],
    fired: int,
    resolved: int | None,
) -> Episode:
    variant, labels = key
    pending = fired
    while pending > 0 and labels in truth[pending - 1][variant]:
        pending -= 1
    budget = _budget(alert.rules[variant], data, labels, steps[fired])
    return Episode(full_labels(alert, variant, labels), steps[pending], steps[fired], resolved, budget)


def _budget(rule: AlertRule, data: Data, labels: Labels, at: int) -> float | None:
    """The budget a burn-rate tier had used when it fired, from the error ratio its long
    window compared at that evaluation (over the limit, or the tier would not fire)."""
    if rule.budget is None:
        return None
    window = rule.budget.window
    ratio = next(c for c in compares(rule.condition) if c.quantity.window == window and c.quantity.unit == "ratio")
    value = data[ratio].get(labels, {}).get(at)
    # Rounded: engines that agree on every firing may differ in a ratio's last bits.
    return None if value is None else round(rule.budget.consumed(value), 9)


def _flapping(alert: Alert, states: list[list[Firing]]) -> list[Labels]:
    """Label sets that changed state at least 4 times within 20 evaluations."""
    changes: dict[Labels, list[int]] = {}
    before: set[tuple[int, Labels]] = set()
    for i, firing in enumerate(states):
        now = {(f.variant, f.labels) for f in firing}
        for variant, labels in now ^ before:
            changes.setdefault(full_labels(alert, variant, labels), []).append(i)
        before = now
    out = []
    for labels, at in sorted(changes.items()):
        if any(at[k + FLAP_CHANGES - 1] - at[k] < FLAP_WINDOW for k in range(len(at) - FLAP_CHANGES + 1)):
            out.append(labels)
    return out
