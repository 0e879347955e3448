"""Counter increase over a window compared with a count: "more than 5 failed transactions in 5m"."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from rulesgen.kinds.base import (
    AlertSpec,
    CompileContext,
    KindRules,
    SelectorUse,
    SingleSelector,
    compare,
    describe,
)
from rulesgen.promql import Duration, number
from rulesgen.spec.models import Direction, MetricType, NonNegative


class CounterIncrease(SingleSelector, AlertSpec):
    """Fires when `increase(metric[window])`, summed by `by`, is above `threshold`."""

    kind: Literal["counter_increase"]
    window: Duration
    threshold: NonNegative = Field(description="fires when the increase is strictly above this count")

    def selectors(self) -> Iterable[SelectorUse]:
        yield SelectorUse((), self.as_selector(), frozenset({MetricType.counter}))

    def grouping(self) -> tuple[str, ...]:
        return tuple(self.by)

    def value_expr(self, ctx: CompileContext) -> str:
        return ctx.windowed(self.as_selector(), "increase", self.window, self.by)

    def compile(self, ctx: CompileContext) -> KindRules:
        variant = compare(self.value_expr(ctx), Direction.above, self.threshold, self.value_unit())
        return KindRules(ctx.records, (variant,))

    def default_description(self) -> str:
        return describe(f"increase of {self.metric} in {self.window}", self, f"> {number(self.threshold)}")
