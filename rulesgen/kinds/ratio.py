"""Ratio of two counters' rates over a window: failure ratio above, hit ratio below."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from rulesgen import conventions
from rulesgen.ir import All, Compare, Labels, Quantity
from rulesgen.kinds.base import (
    AlertModel,
    CompileContext,
    ExactCounters,
    Invariants,
    KindRules,
    Resolve,
    SelectorUse,
    compare,
    describe,
    summed_by,
)
from rulesgen.kinds.toolkit import (
    BREACH,
    IDLE,
    SAFE,
    Phase,
    filter_group,
    increments,
    periodic,
    satisfying_labels,
)
from rulesgen.model.series import ScenarioError, SeriesSet
from rulesgen.promql import Duration, number
from rulesgen.spec.models import (
    Direction,
    DirectionField,
    Identifier,
    LabelName,
    MetricType,
    PositiveDuration,
    Ratio,
    SelectorSpec,
    StrictModel,
)


def scale_for(threshold: float) -> int:
    """Events per step such that `threshold * scale` is whole and one event moves the
    ratio by at most half of the step a mutation nudges it by (0.01, or a tenth of a
    threshold under 0.1), so a breach one event past it is also past the nudge."""
    nudge = min(0.01, threshold / 10) if threshold > 0 else 0.01
    scale = 1000
    while scale < 10**7 and (abs(threshold * scale - round(threshold * scale)) > 1e-9 or 1 / scale > nudge / 2):
        scale *= 10
    return scale


def safe_and_breach(threshold: float, direction: Direction, scale: int) -> tuple[int, int]:
    """Event counts (out of `scale`): healthy exactly on the threshold where a count
    lands on it (so `>=` for `>` pages there, and so does a threshold nudged toward
    firing), else one event short; a breach one event past it.

    Counts are whole, so the ratio of two of them is the float nearest the exact
    fraction: the same float as the threshold's own decimal when they are equal."""
    at = round(threshold * scale)
    exact = at / scale == threshold
    if direction is Direction.above:
        return (at if exact else max(at - 1, 0)), at + 1
    return (at if exact else min(at + 1, scale)), at - 1


def ratio_atoms(
    numerator: SelectorSpec, denominator: Sequence[SelectorSpec], resolve: Resolve, scope: dict[str, str]
) -> tuple[tuple[str, dict[str, str]], tuple[str, dict[str, str]], bool]:
    """Two series to synthesize a ratio from: one the numerator selects, one only the
    denominator selects, and whether the denominator also counts the first."""
    num_matchers = resolve(numerator)
    num = (numerator.metric, satisfying_labels(num_matchers, scope))

    def selects(sel: SelectorSpec, series: tuple[str, dict[str, str]]) -> bool:
        return sel.metric == series[0] and all(m.matches(series[1].get(m.label, "")) for m in resolve(sel))

    for part in denominator:
        matchers = resolve(part)
        candidates = [satisfying_labels(matchers, scope)]
        for m in matchers:
            if m.label not in scope and not m.negate:
                candidates += [{**candidates[0], m.label: value} for value in m.values]
        for labels in candidates:
            if not selects(numerator, (part.metric, labels)):
                counted = sum(selects(p, num) for p in denominator)
                others = sum(selects(p, (part.metric, labels)) for p in denominator)
                if counted > 1 or others != 1:
                    break
                return num, (part.metric, labels), counted == 1
    raise ScenarioError(
        "cannot synthesize test series: no denominator series that the numerator does not also select, "
        "or series counted twice in the denominator"
    )


def put_ratio(
    sim: SeriesSet,
    atoms: tuple[tuple[str, dict[str, str]], tuple[str, dict[str, str]], bool],
    timeline: Sequence[Phase],
    counts: dict[str, tuple[int, int]],
    n: int,
) -> None:
    """Counters whose per-window increases are (numerator events, other events) per level."""
    (num_metric, num_labels), (other_metric, other_labels), _ = atoms
    num = {level: periodic(c[0], n) for level, c in counts.items()}
    other = {level: periodic(c[1], n) for level, c in counts.items()}
    sim.put_counter(num_metric, num_labels, increments(timeline, sim.length, num))
    sim.put_counter(other_metric, other_labels, increments(timeline, sim.length, other))


def level_counts(events: int, scale: int, counted: bool) -> tuple[int, int]:
    """(numerator, other) counts giving ratio events/scale."""
    return (events, scale - events) if counted else (events, scale)


def check_ratio_can_fire(direction: Direction, threshold: float) -> None:
    if direction is Direction.above and threshold >= 1:
        raise ValueError("a ratio above 1 can never fire: ratios are at most 1")
    if direction is Direction.below and threshold <= 0:
        raise ValueError("a ratio below 0 can never fire: ratios are at least 0")


def ratio_expr(numerator: str, denominator_parts: list[str]) -> str:
    """`num / (den > 0)`: a zero denominator (no traffic) yields no sample, so it never pages."""
    den = " + ".join(denominator_parts)
    if len(denominator_parts) > 1:
        den = f"({den})"
    return f"{numerator} / ({den} > 0)"


class MinEvents(StrictModel):
    """The field of counter ratios that need traffic before they page: at 3 transactions
    an hour one failure is a 33% failure ratio, which is not an incident."""

    min_events: int | None = Field(
        default=None,
        ge=1,
        description=(
            "the window must hold at least this many events (of the denominator) before the "
            "ratio can page; off by default"
        ),
    )

    def enough_events(self, expr: str, den: str, by: Sequence[str]) -> str:
        """`expr and on(by) (den >= min_events)`, or `expr` when it is off."""
        if self.min_events is None:
            return expr
        return f"{expr} and on({', '.join(by)}) ({den} >= {self.min_events})"

    def event_floor(self, den: str, window: Duration, what: str) -> tuple[Compare, ...]:
        if self.min_events is None:
            return ()
        quantity = Quantity(expr=den, unit="count", what=what, function="increase", window=window)
        return (Compare(quantity, ">=", float(self.min_events), "min_events"),)

    def busy(self, counts: dict[Labels, float]) -> set[Labels]:
        """The groups whose window holds enough events to page."""
        floor = self.min_events or 0
        return {k for k, v in counts.items() if v >= floor}


def denominator(parts: list[str]) -> str:
    return f"({' + '.join(parts)})" if len(parts) > 1 else parts[0]


class RatioAlert(AlertModel):
    """What the ratio kinds share: a 0..1 threshold crossed above or below, per `by`."""

    by: list[LabelName] = Field(default_factory=list)
    direction: DirectionField = Direction.above
    threshold: Ratio
    quantity: Identifier | None = Field(
        default=None, description="name of the recorded ratio; defaults to the alert name in snake_case"
    )

    @model_validator(mode="after")
    def _can_fire(self) -> Self:
        check_ratio_can_fire(self.direction, self.threshold)
        return self

    def grouping(self) -> tuple[str, ...]:
        return tuple(self.by)

    def value_unit(self) -> str:
        return "ratio"


class CounterRatio(ExactCounters, MinEvents, RatioAlert):
    """Fires when rate(numerator) / sum of rate(denominator parts) crosses `threshold`.

    Rates are events counted exactly in the window (`CompileContext.counted`) divided
    by its seconds; both sides share the window, so the ratio divides the counts."""

    invariants: ClassVar[Invariants] = Invariants(exact_counters=True)
    kind: Literal["ratio"]
    numerator: SelectorSpec
    denominator: list[SelectorSpec] = Field(min_length=1)
    window: PositiveDuration

    def selectors(self) -> Iterable[SelectorUse]:
        counters = frozenset({MetricType.counter})
        yield SelectorUse(("numerator",), self.numerator, counters)
        for i, part in enumerate(self.denominator):
            yield SelectorUse(("denominator", i), part, counters)

    def ratio_record(self, ctx: CompileContext, window: Duration, quantity: str) -> tuple[str, str]:
        """The recorded ratio's name, and the denominator's count it divides by."""
        num = ctx.counted(self.numerator, window, self.by, self.births)
        den = [ctx.counted(part, window, self.by, self.births) for part in self.denominator]
        name = conventions.record_name(self.by, quantity, conventions.window_op("ratio_rate", window))
        return ctx.record(name, ratio_expr(num, den)), denominator(den)

    def compile(self, ctx: CompileContext) -> KindRules:
        record, den = self.ratio_record(ctx, self.window, self.quantity or conventions.snake(self.name))
        parts = " + ".join(p.metric for p in self.denominator)
        quantity = Quantity(
            expr=record,
            unit="ratio",
            what=f"rate of {self.numerator.metric} / rate of {parts} over {self.window}{summed_by(self.by)}",
            function="ratio_rate",
            window=self.window,
        )
        variant = compare(quantity, self.direction, self.threshold)
        floor = self.event_floor(den, self.window, f"events of {parts} in {self.window}{summed_by(self.by)}")
        if floor:
            variant = replace(
                variant, expr=self.enough_events(variant.expr, den, self.by), condition=All((variant.condition, *floor))
            )
        return ctx.rules((variant,))

    def default_description(self) -> str:
        return describe(
            f"{self.numerator.metric} ratio over {self.window}",
            self,
            f"{self.direction.op} {number(self.threshold * 100)}%",
        )

    def synthesize(self, sim: SeriesSet, resolve: Resolve, scope: dict[str, str], timeline: Sequence[Phase]) -> None:
        atoms = ratio_atoms(self.numerator, self.denominator, resolve, scope)
        scale = scale_for(self.threshold)
        safe, breach = safe_and_breach(self.threshold, self.direction, scale)
        counts = {
            SAFE: level_counts(safe, scale, atoms[2]),
            BREACH: level_counts(breach, scale, atoms[2]),
            IDLE: (0, 0),
        }
        # The same counts every step, so every window, even a partly filled one, holds the exact ratio.
        put_ratio(sim, atoms, timeline, counts, 1)

    def warmup(self, step: Duration) -> int:
        # A window counts nothing until the metric has existed for that long (see
        # `CompileContext.counted`): healthy traffic fills one before anything changes.
        return -(-self.window.ms // step.ms) + 2

    def evaluate(self, sim: SeriesSet, resolve: Resolve) -> list[list[dict[Labels, float]]]:
        nums = sim.rate(self.numerator.metric, resolve(self.numerator), self.by, self.window, self.births)
        parts = [
            sim.increase(part.metric, resolve(part), self.by, self.window, self.births) for part in self.denominator
        ]
        seconds = self.window.seconds
        out = []
        for i, num in enumerate(nums):
            # `a + b` of two vectors keeps only label sets present in both.
            keys = set(parts[0][i]).intersection(*(p[i] for p in parts[1:]))
            counts = {k: sum(p[i][k] for p in parts) for k in keys}
            den = {k: sum(p[i][k] / seconds for p in parts) for k in keys}
            busy = self.busy(counts)
            ratios = {k: num[k] / den[k] for k in num if k in den and den[k] > 0 and k in busy}
            out.append([filter_group(ratios, self.direction.op, self.threshold)])
        return out

    def nudged(self) -> CounterRatio:
        step = 0.01 if self.direction is Direction.above else -0.01
        return self.model_copy(update={"threshold": min(max(self.threshold + step, 0.0), 1.0)})
