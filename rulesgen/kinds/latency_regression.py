"""Latency quantile now versus the same window a week earlier, with an absolute floor."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from rulesgen import conventions
from rulesgen.ir import Threshold
from rulesgen.kinds.base import (
    AlertSpec,
    AlertVariant,
    CompileContext,
    KindRules,
    SelectorUse,
    SingleSelector,
)
from rulesgen.promql import Duration, number, selector
from rulesgen.spec.models import MetricType, SelectorSpec


class LatencyRegression(SingleSelector, AlertSpec):
    """Fires when the `quantile` latency is more than `threshold` (a fraction) above its value
    `offset` ago and above `floor`, so that tiny latencies never page."""

    kind: Literal["latency_regression"]
    quantile: float = Field(default=0.95, gt=0, lt=1)
    window: Duration = Duration.parse("5m")
    offset: Duration = Duration.parse("1w")
    threshold: float = Field(gt=0, description="0.2 fires when latency is more than 20% above the baseline")
    floor: Duration = Field(description="current latency must also exceed this (for example 100ms)")

    def selectors(self) -> Iterable[SelectorUse]:
        yield SelectorUse((), self.as_selector(), frozenset({MetricType.histogram}))

    def grouping(self) -> tuple[str, ...]:
        # Quantiles cannot be re-aggregated, so they are computed per matcher label too.
        return tuple(sorted(set(self.by) | set(self.matchers)))

    def value_unit(self) -> str:
        return "factor"

    def quantile_name(self) -> str:
        return "p" + f"{self.quantile * 100:g}".replace(".", "_")

    def compile(self, ctx: CompileContext) -> KindRules:
        keep = self.grouping()
        matchers = ctx.resolve(self.as_selector())
        # Unfiltered buckets: the quantile record is then shared by every alert on this
        # histogram at this grouping, and each alert selects its own routes from it.
        everything = SelectorSpec(metric=self.metric)
        buckets = ctx.windowed(everything, "rate", self.window, (*keep, "le"), suffix="_bucket")
        name = conventions.record_name(
            keep, self.metric, conventions.window_op(f"{self.quantile_name()}_rate", self.window)
        )
        ctx.record(name, f"histogram_quantile({number(self.quantile)}, {buckets})")
        current = selector(name, matchers)
        value = f"{current} / ({current} offset {self.offset} > 0)"
        factor = 1 + self.threshold
        expr = f"{value} > {number(factor)} and {current} > {number(self.floor.seconds)}"
        variant = AlertVariant(expr, Threshold(value, ">", factor, "factor"))
        return KindRules(ctx.records, (variant,))

    def default_description(self) -> str:
        return (
            f"p{self.quantile * 100:g} latency of {self.metric}{self.scope_text()} is "
            f"{self.humanized_value()} of its value {self.offset} earlier "
            f"(threshold > {number((1 + self.threshold) * 100)}%, floor {self.floor})."
        )
