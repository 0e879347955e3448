"""Series that should not exist, and do: the inverse of `absent`.

Its use is blindness made visible. Alerts that match a label set (mainnet networks)
never see values outside it: a mainnet the platform added but the spec did not
(`base`), a value in another case (`Polygon`), a series with no `network` label at all.
`matchers: {network: {not_set: mainnet_networks}}` selects exactly those, and this kind
fires, per `by`, while any exists, naming the value to add to the label set."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar, Literal

from rulesgen.ir import Compare, Labels, Quantity
from rulesgen.kinds.base import (
    AlertModel,
    AlertVariant,
    CompileContext,
    Invariants,
    KindRules,
    Resolve,
    SelectorUse,
    SingleSelector,
    summed_by,
)
from rulesgen.kinds.toolkit import BREACH, Phase, put_while, satisfying_labels
from rulesgen.model.series import SeriesSet
from rulesgen.promql import aggregate, selector
from rulesgen.spec.models import MetricType


class PresentAlert(SingleSelector, AlertModel):
    """Fires while any series of `metric` matching `matchers` exists (one alert per `by`)."""

    kind: Literal["present"]
    invariants: ClassVar[Invariants] = Invariants()

    def selectors(self) -> Iterable[SelectorUse]:
        yield SelectorUse((), self.as_selector(), frozenset({MetricType.counter, MetricType.gauge}))

    def grouping(self) -> tuple[str, ...]:
        return tuple(self.by)

    def compile(self, ctx: CompileContext) -> KindRules:
        series = selector(self.metric, ctx.resolve(self.as_selector()))
        count = aggregate("count", self.by, series)
        quantity = Quantity(expr=count, unit="count", what=f"series of {series}{summed_by(self.by)}", function="count")
        # `count` returns a sample only where a series exists, always 1 or more: the
        # expression alone is the condition (`> 0` would be a comparison that never filters).
        return KindRules((), (AlertVariant(count, Compare(quantity, ">", 0.0, "matchers")),))

    def default_description(self) -> str:
        return f"{self.humanized_value()} series of {self.metric}{self.scope_text()} that no other alert reads."

    # Breach: one series outside what the alerts know, every step; otherwise none.
    def synthesize(self, sim: SeriesSet, resolve: Resolve, scope: dict[str, str], timeline: Sequence[Phase]) -> None:
        put_while(sim, self.metric, satisfying_labels(resolve(self.as_selector()), scope), timeline, BREACH)

    def evaluate(self, sim: SeriesSet, resolve: Resolve) -> list[list[dict[Labels, float]]]:
        counts = sim.instant(self.metric, resolve(self.as_selector()), self.by, "count")
        return [[group] for group in counts]

    def nudged(self) -> PresentAlert:
        return self.model_copy(update={"for_": self.for_ * 2})
