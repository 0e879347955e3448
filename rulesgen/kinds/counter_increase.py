"""Counter increase over a window compared with a count: "more than 5 failed transactions in 5m"."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import ClassVar, Literal

from pydantic import Field

from rulesgen.ir import Labels, Quantity
from rulesgen.kinds.base import (
    AlertModel,
    CompileContext,
    ExactCounters,
    Invariants,
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
    BURST,
    IDLE,
    SAFE,
    Phase,
    filter_group,
    increments,
    periodic,
    satisfying_labels,
)
from rulesgen.model.series import SeriesSet
from rulesgen.promql import Duration, number, selector
from rulesgen.spec.models import Direction, MetricType, NonNegative, PositiveDuration


class CounterIncrease(ExactCounters, SingleSelector, AlertModel):
    """Fires when the events counted in `window` (exactly, see `CompileContext.counted`),
    summed by `by`, are more than `threshold`."""

    invariants: ClassVar[Invariants] = Invariants(exact_counters=True)

    kind: Literal["counter_increase"]
    window: PositiveDuration
    threshold: NonNegative = Field(description="fires when the increase is strictly above this count")

    def selectors(self) -> Iterable[SelectorUse]:
        yield SelectorUse((), self.as_selector(), frozenset({MetricType.counter}))

    def grouping(self) -> tuple[str, ...]:
        return tuple(self.by)

    def quantity(self, ctx: CompileContext) -> Quantity:
        return Quantity(
            expr=ctx.counted(self.as_selector(), self.window, self.by, self.births),
            unit=self.value_unit(),
            what=f"events of {selector(self.metric, ctx.resolve(self.as_selector()))} counted exactly in "
            f"{self.window}" + summed_by(self.by),
            function="increase",
            window=self.window,
        )

    def compile(self, ctx: CompileContext) -> KindRules:
        variant = compare(self.quantity(ctx), Direction.above, self.threshold)
        return ctx.rules((variant,))

    def default_description(self) -> str:
        return describe(f"increase of {self.metric} in {self.window}", self, f"> {number(self.threshold)}")

    # A count just at the threshold is safe (the rule fires strictly above it);
    # one more is a breach.
    def synthesize(self, sim: SeriesSet, resolve: Resolve, scope: dict[str, str], timeline: Sequence[Phase]) -> None:
        n = sim.steps(self.window)
        safe = float(math.floor(self.threshold))
        patterns = {SAFE: periodic(safe, n), BREACH: periodic(safe + 1, n), BURST: [safe + 1], IDLE: [0.0]}
        labels = satisfying_labels(resolve(self.as_selector()), scope)
        sim.put_counter(self.metric, labels, increments(timeline, sim.length, patterns))

    def warmup(self, step: Duration) -> int:
        # A window counts nothing until the metric has existed for that long (see
        # `CompileContext.counted`): healthy traffic fills one before anything changes.
        return -(-self.window.ms // step.ms) + 2

    def burst_level(self) -> str | None:
        # Born with one event past the threshold (a first failure on a new series when
        # the threshold is 0), the count stays in the window for a whole window.
        return BURST

    def evaluate(self, sim: SeriesSet, resolve: Resolve) -> list[list[dict[Labels, float]]]:
        groups = sim.increase(self.metric, resolve(self.as_selector()), self.by, self.window, self.births)
        return [[filter_group(group, ">", self.threshold)] for group in groups]

    def nudged(self) -> CounterIncrease:
        return self.model_copy(update={"threshold": self.threshold + 1})
