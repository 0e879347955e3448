"""A metric that has no series at all: the exporter is down or no longer scraped."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar, Literal

from pydantic import Field

from rulesgen.ir import Absent, Labels, Selector
from rulesgen.kinds.base import (
    AlertModel,
    AlertVariant,
    CompileContext,
    Invariants,
    KindRules,
    Resolve,
    SelectorUse,
)
from rulesgen.kinds.toolkit import SAFE, Phase, put_while, satisfying_labels
from rulesgen.model.series import SeriesSet
from rulesgen.promql import Duration, Matcher, selector
from rulesgen.spec.models import LabelName, MatcherSpec, MetricName, MetricType, SelectorSpec


class AbsentAlert(AlertModel):
    """Fires when no series of `metric` (with `matchers`) has been seen for `for`.

    Prometheus keeps returning a series for five minutes after its last sample
    (less when the target's scrape marks it stale), so the alert fires at most
    5m + `for` after the data stops."""

    kind: Literal["absent"]
    metric: MetricName
    matchers: dict[LabelName, MatcherSpec] = Field(default_factory=dict)
    for_: Duration = Field(alias="for", description="how long the metric must be absent before the alert fires")

    # No data is exactly what this kind is about, and series outside the matchers
    # do not count as the metric being there.
    invariants: ClassVar[Invariants] = Invariants(no_data_fires=True, outside_matchers_fire=True)

    def as_selector(self) -> SelectorSpec:
        return SelectorSpec(metric=self.metric, matchers=self.matchers)

    def selectors(self) -> Iterable[SelectorUse]:
        yield SelectorUse((), self.as_selector(), frozenset({MetricType.counter, MetricType.gauge}))

    def result_labels(self, metric_labels: Callable[[str], Sequence[str]]) -> tuple[str, ...]:
        # absent() returns the labels of the selector's equality matchers, nothing else.
        return tuple(sorted(label for label, value in self.matchers.items() if isinstance(value, str)))

    def _equalities(self, resolve: Resolve) -> Labels:
        return tuple((m.label, m.values[0]) for m in resolve(self.as_selector()) if _is_equality(m))

    def compile(self, ctx: CompileContext) -> KindRules:
        matchers = ctx.resolve(self.as_selector())
        watched = Selector(self.metric, matchers)
        condition = Absent(watched, f"no series of {watched}")
        return KindRules((), (AlertVariant(f"absent({selector(self.metric, matchers)})", condition),))

    def default_description(self) -> str:
        return f"No series of {self.metric} for [[ for ]]: check that its exporter is up and scraped."

    # Present: one sample every step; absent: none.
    def synthesize(self, sim: SeriesSet, resolve: Resolve, scope: dict[str, str], timeline: Sequence[Phase]) -> None:
        put_while(sim, self.metric, satisfying_labels(resolve(self.as_selector()), scope), timeline, SAFE)

    def evaluate(self, sim: SeriesSet, resolve: Resolve) -> list[list[dict[Labels, float]]]:
        present = sim.present(self.metric, resolve(self.as_selector()))
        labels = self._equalities(resolve)
        return [[{} if seen else {labels: 1.0}] for seen in present]

    def horizon(self, step: Duration) -> int:
        # The lookback keeps the last sample visible for five minutes before `for` starts.
        return super().horizon(step) + -(-Duration.parse("5m").ms // step.ms)

    def nudged(self) -> AbsentAlert:
        return self.model_copy(update={"for_": self.for_ * 2})


def _is_equality(m: Matcher) -> bool:
    return not m.negate and len(m.values) == 1
