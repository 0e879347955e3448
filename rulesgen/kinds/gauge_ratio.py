"""Ratio of two gauges, such as memory used over its limit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar, Literal

from rulesgen import conventions
from rulesgen.ir import Labels, Quantity
from rulesgen.kinds.base import (
    CompileContext,
    Invariants,
    KindRules,
    Resolve,
    ScrapedGauges,
    SelectorUse,
    compare,
    describe,
    summed_by,
)
from rulesgen.kinds.ratio import RatioAlert, ratio_expr
from rulesgen.kinds.toolkit import (
    BREACH,
    IDLE,
    SAFE,
    Phase,
    filter_group,
    levels,
    satisfying_labels,
)
from rulesgen.model.series import SeriesSet
from rulesgen.promql import aggregate, number, selector
from rulesgen.spec.models import (
    MetricType,
    SelectorSpec,
)


class GaugeRatio(ScrapedGauges, RatioAlert):
    """Fires when sum(numerator) / sum(denominator) by `by` crosses `threshold`; a zero limit never pages."""

    invariants: ClassVar[Invariants] = Invariants(scraped_gauges=True)

    kind: Literal["gauge_ratio"]
    numerator: SelectorSpec
    denominator: SelectorSpec

    def selectors(self) -> Iterable[SelectorUse]:
        gauges = frozenset({MetricType.gauge})
        yield SelectorUse(("numerator",), self.numerator, gauges)
        yield SelectorUse(("denominator",), self.denominator, gauges)

    def compile(self, ctx: CompileContext) -> KindRules:
        num, den = (
            aggregate("sum", self.by, self.gauge(selector(sel.metric, ctx.resolve(sel))))
            for sel in (self.numerator, self.denominator)
        )
        name = conventions.record_name(self.by, self.quantity or conventions.snake(self.name), "ratio")
        quantity = Quantity(
            expr=ctx.record(name, ratio_expr(num, [den])),
            unit="ratio",
            what=f"{self.numerator.metric} / {self.denominator.metric}{summed_by(self.by)}",
            function="ratio",
        )
        return KindRules(ctx.records, (compare(quantity, self.direction, self.threshold),))

    def default_description(self) -> str:
        return describe(
            f"{self.numerator.metric} / {self.denominator.metric}",
            self,
            f"{self.direction.op} {number(self.threshold * 100)}%",
        )

    # Scenarios use a limit of 1000 and usage 1% of it past (or short of) the threshold;
    # idle is a limit of 0 (unlimited), which must never page.
    LIMIT: ClassVar[float] = 1000.0

    def synthesize(self, sim: SeriesSet, resolve: Resolve, scope: dict[str, str], timeline: Sequence[Phase]) -> None:
        sign = 1 if self.direction.op == ">" else -1
        margin = min(0.005, self.threshold / 20) if self.threshold > 0 else 0.005
        # Healthy exactly on the threshold when usage / limit gives its very float
        # (`>` silent, `>=` pages), else a margin short of it.
        at = self.threshold * self.LIMIT
        safe = at if at / self.LIMIT == self.threshold else (self.threshold - sign * margin) * self.LIMIT
        used = {
            SAFE: min(max(safe, 0.0), self.LIMIT),
            BREACH: (self.threshold + sign * margin) * self.LIMIT,
            IDLE: self.LIMIT / 2,
        }
        steps = levels(timeline, sim.length)
        sim.put(self.numerator.metric, satisfying_labels(resolve(self.numerator), scope), [used[lv] for lv in steps])
        sim.put(
            self.denominator.metric,
            satisfying_labels(resolve(self.denominator), scope),
            [0.0 if lv == IDLE else self.LIMIT for lv in steps],
        )

    def evaluate(self, sim: SeriesSet, resolve: Resolve) -> list[list[dict[Labels, float]]]:
        nums = sim.instant(
            self.numerator.metric, resolve(self.numerator), self.by, "sum", self.gauge_steps(sim), self.replicas_by
        )
        dens = sim.instant(
            self.denominator.metric, resolve(self.denominator), self.by, "sum", self.gauge_steps(sim), self.replicas_by
        )
        out = []
        for num, den in zip(nums, dens, strict=True):
            ratios = {k: num[k] / den[k] for k in num if k in den and den[k] > 0}
            out.append([filter_group(ratios, self.direction.op, self.threshold)])
        return out

    def nudged(self) -> GaugeRatio:
        step = 0.01 if self.direction.op == ">" else -0.01
        return self.model_copy(update={"threshold": min(max(self.threshold + step, 0.0), 1.0)})
