"""Counter increase over a window compared with a count: "more than 5 failed transactions in 5m"."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import Field

from rulesgen.ir import Labels
from rulesgen.kinds.base import (
    BREACH,
    IDLE,
    SAFE,
    AlertSpec,
    CompileContext,
    KindRules,
    Phase,
    Resolve,
    SelectorUse,
    SingleSelector,
    compare,
    describe,
    filter_group,
    increments,
    periodic,
    satisfying_labels,
)
from rulesgen.promql import Duration, number
from rulesgen.simulate import SeriesSet
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

    # A count just at the threshold is safe (the rule fires strictly above it);
    # one more is a breach.
    def synthesize(self, sim: SeriesSet, resolve: Resolve, scope: dict[str, str], timeline: Sequence[Phase]) -> None:
        n = sim.steps(self.window)
        safe = float(math.floor(self.threshold))
        patterns = {SAFE: periodic(safe, n), BREACH: periodic(safe + 1, n), IDLE: [0.0]}
        labels = satisfying_labels(resolve(self.as_selector()), scope)
        sim.put_counter(self.metric, labels, increments(timeline, sim.length, patterns))

    def evaluate(self, sim: SeriesSet, resolve: Resolve) -> list[list[dict[Labels, float]]]:
        groups = sim.increase(self.metric, resolve(self.as_selector()), self.by, self.window)
        return [[filter_group(group, ">", self.threshold)] for group in groups]

    def nudged(self) -> CounterIncrease:
        return self.model_copy(update={"threshold": self.threshold + 1})
