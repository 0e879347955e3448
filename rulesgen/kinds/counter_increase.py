"""Counter increase over a window compared with a count: "more than 5 failed transactions in 5m"."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import Field

from rulesgen.ir import Labels, Quantity
from rulesgen.kinds.base import (
    AlertModel,
    CompileContext,
    KindRules,
    Resolve,
    SelectorUse,
    SingleSelector,
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
from rulesgen.promql import number, selector
from rulesgen.spec.models import Direction, MetricType, NonNegative, PositiveDuration
from rulesgen.testgen.model.series import SeriesSet


class CounterIncrease(SingleSelector, AlertModel):
    """Fires when `increase(metric[window])`, summed by `by`, is above `threshold`."""

    kind: Literal["counter_increase"]
    window: PositiveDuration
    threshold: NonNegative = Field(description="fires when the increase is strictly above this count")

    def selectors(self) -> Iterable[SelectorUse]:
        yield SelectorUse((), self.as_selector(), frozenset({MetricType.counter}))

    def grouping(self) -> tuple[str, ...]:
        return tuple(self.by)

    def quantity(self, ctx: CompileContext) -> Quantity:
        return Quantity(
            expr=ctx.windowed(self.as_selector(), "increase", self.window, self.by),
            unit=self.value_unit(),
            what=f"increase of {selector(self.metric, ctx.resolve(self.as_selector()))} over {self.window}"
            + summed_by(self.by),
            function="increase",
            window=self.window,
        )

    def compile(self, ctx: CompileContext) -> KindRules:
        variant = compare(self.quantity(ctx), Direction.above, self.threshold)
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
