"""A gauge above or below a threshold: pending backlog, churn ratio."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from rulesgen.kinds.base import (
    AlertSpec,
    CompileContext,
    KindRules,
    SelectorUse,
    SingleSelector,
    compare,
    describe,
)
from rulesgen.promql import aggregate, number, selector
from rulesgen.spec.models import Direction, DirectionField, MetricType


class GaugeThreshold(SingleSelector, AlertSpec):
    """Fires when the gauge (summed by `by`, or per series when `by` is empty) crosses `threshold`."""

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
        value = selector(self.metric, ctx.resolve(self.as_selector()))
        if self.by:
            value = aggregate(self.aggregation, self.by, value)
        return KindRules((), (compare(value, self.direction, self.threshold, self.unit),))

    def default_description(self) -> str:
        return describe(self.metric, self, f"{self.direction.op} {number(self.threshold)}")
