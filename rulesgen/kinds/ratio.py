"""Ratio of two counters' rates over a window: failure ratio above, hit ratio below."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from rulesgen import conventions
from rulesgen.kinds.base import AlertSpec, CompileContext, KindRules, SelectorUse, compare, describe
from rulesgen.promql import Duration, number
from rulesgen.spec.models import (
    Direction,
    DirectionField,
    Identifier,
    LabelName,
    MetricType,
    Ratio,
    SelectorSpec,
)


def ratio_expr(numerator: str, denominator_parts: list[str]) -> str:
    """`num / (den > 0)`: a zero denominator (no traffic) yields no sample, so it never pages."""
    den = " + ".join(denominator_parts)
    if len(denominator_parts) > 1:
        den = f"({den})"
    return f"{numerator} / ({den} > 0)"


class CounterRatio(AlertSpec):
    """Fires when rate(numerator) / sum of rate(denominator parts) crosses `threshold`."""

    kind: Literal["ratio"]
    numerator: SelectorSpec
    denominator: list[SelectorSpec] = Field(min_length=1)
    by: list[LabelName] = Field(default_factory=list)
    window: Duration
    direction: DirectionField = Direction.above
    threshold: Ratio
    quantity: Identifier | None = Field(
        default=None, description="name of the recorded ratio; defaults to the alert name in snake_case"
    )

    def selectors(self) -> Iterable[SelectorUse]:
        counters = frozenset({MetricType.counter})
        yield SelectorUse(("numerator",), self.numerator, counters)
        for i, part in enumerate(self.denominator):
            yield SelectorUse(("denominator", i), part, counters)

    def grouping(self) -> tuple[str, ...]:
        return tuple(self.by)

    def value_unit(self) -> str:
        return "ratio"

    def ratio_record(self, ctx: CompileContext, window: Duration, quantity: str) -> str:
        num = ctx.windowed(self.numerator, "rate", window, self.by)
        den = [ctx.windowed(part, "rate", window, self.by) for part in self.denominator]
        name = conventions.record_name(self.by, quantity, conventions.window_op("ratio_rate", window))
        return ctx.record(name, ratio_expr(num, den))

    def compile(self, ctx: CompileContext) -> KindRules:
        value = self.ratio_record(ctx, self.window, self.quantity or conventions.snake(self.name))
        return KindRules(ctx.records, (compare(value, self.direction, self.threshold, "ratio"),))

    def default_description(self) -> str:
        return describe(
            f"{self.numerator.metric} ratio over {self.window}",
            self,
            f"{self.direction.op} {number(self.threshold * 100)}%",
        )
