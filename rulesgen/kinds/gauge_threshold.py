"""A gauge above or below a threshold: pending backlog, churn ratio."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar, Literal

from rulesgen.ir import Labels, Quantity
from rulesgen.kinds.base import (
    AlertModel,
    CompileContext,
    Invariants,
    KindRules,
    Resolve,
    ScrapedGauges,
    SelectorUse,
    SingleSelector,
    compare,
    describe,
    summed_by,
)
from rulesgen.kinds.toolkit import (
    BREACH,
    SAFE,
    Phase,
    filter_group,
    levels,
    satisfying_labels,
)
from rulesgen.model.series import SeriesSet
from rulesgen.promql import aggregate, number, selector
from rulesgen.spec.models import Direction, DirectionField, MetricType


class GaugeThreshold(SingleSelector, ScrapedGauges, AlertModel):
    """Fires when the gauge (summed by `by`, or per series when `by` is empty) crosses `threshold`."""

    invariants: ClassVar[Invariants] = Invariants(scraped_gauges=True)

    kind: Literal["gauge_threshold"]
    direction: DirectionField = Direction.above
    threshold: float
    aggregation: Literal["sum", "max", "min", "avg"] = "sum"
    unit: Literal["count", "ratio", "bytes", "seconds"] = "count"

    def selectors(self) -> Iterable[SelectorUse]:
        yield SelectorUse((), self.as_selector(), frozenset({MetricType.gauge}))

    def grouping(self) -> tuple[str, ...]:
        return tuple(self.by)

    def value_unit(self) -> str:
        return self.unit

    def compile(self, ctx: CompileContext) -> KindRules:
        series = self.gauge(selector(self.metric, ctx.resolve(self.as_selector())))
        value = aggregate(self.aggregation, self.by, series) if self.by else series
        what = f"{self.aggregation} of {series}{summed_by(self.by)}" if self.by else f"{series}, per series"
        quantity = Quantity(expr=value, unit=self.unit, what=what, function="gauge")
        return KindRules((), (compare(quantity, self.direction, self.threshold),))

    def default_description(self) -> str:
        return describe(self.metric, self, f"{self.direction.op} {number(self.threshold)}")

    def margin(self) -> float:
        """How far past the threshold a breach goes: one unit for whole counts, else half
        the smallest step a mutation nudges a threshold by (0.01 or a tenth for ratios,
        1% otherwise), so a threshold nudged away from firing misses the breach."""
        if self.unit == "count" and float(self.threshold).is_integer():
            return 1.0
        if self.unit == "ratio":
            return max(min(0.005, abs(self.threshold) / 20), 0.0005)
        return max(abs(self.threshold) * 0.005, 0.001)

    # Healthy sits exactly on the threshold: `>` stays silent there, while `>=`, or a
    # threshold nudged toward firing, pages. A breach is one margin past it.
    def synthesize(self, sim: SeriesSet, resolve: Resolve, scope: dict[str, str], timeline: Sequence[Phase]) -> None:
        sign = 1 if self.direction.op == ">" else -1
        values = {SAFE: self.threshold, BREACH: self.threshold + sign * self.margin()}
        samples = [values.get(level) for level in levels(timeline, sim.length)]
        if any(v is not None for v in samples):  # an idle gauge is absent: no data, no page
            sim.put(self.metric, satisfying_labels(resolve(self.as_selector()), scope), samples)

    def evaluate(self, sim: SeriesSet, resolve: Resolve) -> list[list[dict[Labels, float]]]:
        groups = sim.instant(
            self.metric,
            resolve(self.as_selector()),
            self.by or None,
            self.aggregation,
            self.gauge_steps(sim),
            self.replicas_by,
        )
        return [[filter_group(group, self.direction.op, self.threshold)] for group in groups]

    def nudged(self) -> GaugeThreshold:
        sign = 1 if self.direction.op == ">" else -1
        return self.model_copy(update={"threshold": self.threshold + sign * 2 * self.margin()})
