"""A scope of a metric with no series: one mainnet's series gone while the other
mainnets and the testnets remain, or the whole metric renamed.

`absent` watches a metric as a whole, so a paging alert that reads one scope of it
(`network: {set: mainnet_networks}`) goes blind without a signal when that scope's
worker dies while other series remain. This kind fires once per combination of the
values its matchers name (`network="polygon"`, `network="arbitrum"`). rulesgen adds one
for each metric a paging alert reads that the catalog declares `always_present`
(`rulesgen.spec.guards`); it may also be written by hand."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any, ClassVar, Literal

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
from rulesgen.spec.models import (
    AlertName,
    LabelName,
    LabelValue,
    MetricName,
    MetricType,
    PositiveDuration,
    SelectorSpec,
    SetRef,
)

# Matchers whose values can be listed: each value is a scope of its own. A negation
# names what is not watched, never what is.
ScopeMatcher = LabelValue | Annotated[list[LabelValue], Field(min_length=1)] | SetRef

# The label of the series a scenario keeps for every scope it does not drive: the
# other mainnets, there all along (a guard would fire for a scope nobody scrapes).
STEADY_LABEL, STEADY = "rulesgen_series", "steady"
# A scope's series count as there for Prometheus's own lookback after their last sample,
# then must stay gone this long: 15 minutes from the last sample to the page, as an
# `absent` alert of 10m takes.
LAST_SAMPLE_FOR = Duration.parse("5m")
GUARD_FOR = Duration.parse("10m")


class AbsenceGuardAlert(AlertModel):
    """Fires per combination of the values its `matchers` name when the metric has had no
    series there for `last_sample_for` and `for` more. Series count as there for
    `last_sample_for` after their last sample (`absent_over_time`), so a failed scrape or
    a pod replaced within it changes nothing."""

    kind: Literal["absence_guard"]
    metric: MetricName
    matchers: dict[LabelName, ScopeMatcher] = Field(
        default_factory=dict,
        description="the scopes watched: every value named (a set's values) is one absence of its own",
    )
    last_sample_for: PositiveDuration = Field(
        default=LAST_SAMPLE_FOR,
        description=(
            "a scope's series count as there this long after their last sample: failed scrapes "
            "and a pod replaced within it do not fire"
        ),
    )
    for_: Duration = Field(
        default=GUARD_FOR,
        alias="for",
        description="how long a scope must have had no series (after last_sample_for) before the alert fires",
    )
    guards: list[AlertName] = Field(
        default_factory=list, description="the alerts that are blind while it fires (named in its description)"
    )

    invariants: ClassVar[Invariants] = Invariants(no_data_fires=True, outside_matchers_fire=True, scoped_absence=True)

    def as_selector(self) -> SelectorSpec:
        return SelectorSpec(metric=self.metric, matchers=dict(self.matchers))

    def selectors(self) -> Iterable[SelectorUse]:
        yield SelectorUse((), self.as_selector(), frozenset({MetricType.counter, MetricType.gauge}))

    def grouping(self) -> tuple[str, ...]:
        return tuple(sorted(self.matchers))

    def absence(self, resolve: Resolve) -> Absent:
        watched = Selector(self.metric, resolve(self.as_selector()))
        what = f"no series of {watched} for {self.last_sample_for}"
        if self.matchers:
            what += f", per {', '.join(self.grouping())}"
        return Absent(watched, what, self.last_sample_for, self.grouping())

    def compile(self, ctx: CompileContext) -> KindRules:
        absence = self.absence(ctx.resolve)
        expr = " or ".join(
            f"absent_over_time({selector(self.metric, _equalities(scope))}[{self.last_sample_for}])"
            for scope in absence.scopes()
        )
        return KindRules((), (AlertVariant(expr, absence),))

    def template_vars(self) -> dict[str, Any]:
        # `gone_for`: how long a scope has had no series when the alert fires.
        gone = self.last_sample_for + self.for_
        return {**super().template_vars(), "guarded": ", ".join(self.guards), "gone_for": str(gone)}

    def default_description(self) -> str:
        blind = f" {', '.join(self.guards)} cannot page there." if self.guards else ""
        return (
            f"No series of {self.metric}{self.scope_text()} for [[ gone_for ]]: "
            f"its exporter is down or the metric was renamed.{blind}"
        )

    # Present: one sample every step; absent: none. Every other scope is there throughout.
    def synthesize(self, sim: SeriesSet, resolve: Resolve, scope: dict[str, str], timeline: Sequence[Phase]) -> None:
        labels = satisfying_labels(resolve(self.as_selector()), scope)
        own = tuple((label, labels[label]) for label in self.grouping())
        # A scope driven now replaces the steady series an earlier scope gave it.
        for key, series in list(sim.series.items()):
            kept = dict(series.labels)
            if series.metric == self.metric and kept.get(STEADY_LABEL) == STEADY and _within(kept, own):
                del sim.series[key]
        put_while(sim, self.metric, labels, timeline, SAFE)
        for other in self.absence(resolve).scopes():
            if other != own and not sim.select(self.metric, _equalities(other)):
                sim.put(self.metric, {**dict(other), STEADY_LABEL: STEADY}, [1.0] * sim.length)

    def evaluate(self, sim: SeriesSet, resolve: Resolve) -> list[list[dict[Labels, float]]]:
        out: list[list[dict[Labels, float]]] = [[{}] for _ in range(sim.length)]
        n = sim.steps(self.last_sample_for)
        for scope in self.absence(resolve).scopes():
            for i, seen in enumerate(sim.seen_over(self.metric, _equalities(scope), n)):
                if not seen:
                    out[i][0][scope] = 1.0
        return out

    def horizon(self, step: Duration) -> int:
        # The last sample stands for `last_sample_for` before `for` starts.
        return super().horizon(step) + -(-self.last_sample_for.ms // step.ms)

    def nudged(self) -> AbsenceGuardAlert:
        return self.model_copy(update={"for_": self.for_ * 2})


def _equalities(scope: Labels) -> tuple[Matcher, ...]:
    return tuple(Matcher(label, (value,)) for label, value in scope)


def _within(labels: dict[str, str], scope: Labels) -> bool:
    return all(labels.get(label) == value for label, value in scope)
