"""Ratio of two gauges, such as memory used over its limit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from rulesgen import conventions
from rulesgen.kinds.base import AlertSpec, CompileContext, KindRules, SelectorUse, compare, describe
from rulesgen.kinds.ratio import ratio_expr
from rulesgen.promql import aggregate, number, selector
from rulesgen.spec.models import (
    Direction,
    DirectionField,
    Identifier,
    LabelName,
    MetricType,
    Ratio,
    SelectorSpec,
)


class GaugeRatio(AlertSpec):
    """Fires when sum(numerator) / sum(denominator) by `by` crosses `threshold`; a zero limit never pages."""

    kind: Literal["gauge_ratio"]
    numerator: SelectorSpec
    denominator: SelectorSpec
    by: list[LabelName] = Field(default_factory=list)
    direction: DirectionField = Direction.above
    threshold: Ratio
    quantity: Identifier | None = None

    def selectors(self) -> Iterable[SelectorUse]:
        gauges = frozenset({MetricType.gauge})
        yield SelectorUse(("numerator",), self.numerator, gauges)
        yield SelectorUse(("denominator",), self.denominator, gauges)

    def grouping(self) -> tuple[str, ...]:
        return tuple(self.by)

    def value_unit(self) -> str:
        return "ratio"

    def compile(self, ctx: CompileContext) -> KindRules:
        num, den = (
            aggregate("sum", self.by, selector(sel.metric, ctx.resolve(sel)))
            for sel in (self.numerator, self.denominator)
        )
        name = conventions.record_name(self.by, self.quantity or conventions.snake(self.name), "ratio")
        value = ctx.record(name, ratio_expr(num, [den]))
        return KindRules(ctx.records, (compare(value, self.direction, self.threshold, "ratio"),))

    def default_description(self) -> str:
        return describe(
            f"{self.numerator.metric} / {self.denominator.metric}",
            self,
            f"{self.direction.op} {number(self.threshold * 100)}%",
        )
