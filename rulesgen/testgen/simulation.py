"""The simulation harness of test planning: one alert's synthesized series, dressed up
to make wrong rules visible (spread over labels the alert sums away, copies on values
its selectors exclude), and the firing alerts the model derives from them; and the
plans a scenario family returns (samples as IR data, checks at sample steps)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import chain, islice, repeat

from rulesgen.ir import InputSeries, Labels
from rulesgen.kinds.base import AlertModel, Resolve
from rulesgen.kinds.toolkit import Phase
from rulesgen.model.alertstate import Firing, alert_states
from rulesgen.model.series import SeriesSet
from rulesgen.promql import Duration

# The scrape target every scenario series belongs to unless a scenario says otherwise
# (its `up` series is derived from when the target's series have samples).
TARGET: Labels = (
    ("instance", "replica-a:8080"),
    ("job", "app"),
)


@dataclass(frozen=True)
class PlannedCheck:
    """At this sample step exactly these alerts fire (empty: silent)."""

    step: int
    firing: tuple[Firing, ...]


@dataclass(frozen=True)
class Plan:
    name: str
    purpose: str  # healthy, breach, short_breach, recovery, label_scope, no_data, example, ...
    step: Duration  # sample interval; check steps count these
    series: tuple[InputSeries, ...]
    checks: tuple[PlannedCheck, ...]
    eval_step: Duration  # rule evaluation interval, a multiple of `step`


# How much traffic outside the matchers a shaped scenario carries, relative to its own.
NOISE_FACTOR = 10.0


@dataclass(frozen=True)
class Spread:
    """Series of one scope spread over several values of `label`, sums kept exact.

    The first series of each metric is split evenly over all `values`; every other
    series stays whole on the first value. Every group a sum adds up then holds
    several series, and two groups of one metric (failed and succeeded) hold different
    numbers of them, so that `max`, `min` and `avg` disagree with `sum` even on a ratio
    of two groups (halves over halves would keep the ratio), and a value dropped from a
    matcher changes a ratio instead of scaling both of its sides. Halves of whole
    numbers are exact floats, so promtool sums them back exactly."""

    label: str
    values: tuple[str, ...]

    def parts(self, first_of_metric: bool) -> tuple[str, ...]:
        return self.values if first_of_metric else self.values[:1]


@dataclass(frozen=True)
class Shape:
    """How a scenario's in-scope series are dressed up to make wrong rules visible:
    spread over labels the alert sums away, and copied (`noise`) onto label values
    that every selector excludes, which a correct rule must ignore."""

    spreads: tuple[Spread, ...] = ()
    noise: tuple[tuple[str, str], ...] = ()  # (label, excluded value)
    stalled: tuple[tuple[str, str], ...] = ()  # (spare label, value) of a series that stopped


class Simulation:
    """One alert's series and the firing alerts they lead to, step by step."""

    def __init__(self, alert: AlertModel, resolve: Resolve, step: Duration, length: int, every: int = 1) -> None:
        self.alert = alert
        self.resolve = resolve
        self.sim = SeriesSet(step, length, every=every, target=TARGET)
        self.every = every  # rules are evaluated every `every` samples
        self.spreads: tuple[Spread, ...] = ()

    def copy(self) -> Simulation:
        """The same series, each with samples of its own to change."""
        out = Simulation(self.alert, self.resolve, self.sim.step, self.sim.length, self.every)
        out.spreads = self.spreads
        out.sim.series = {key: replace(s, samples=list(s.samples)) for key, s in self.sim.series.items()}
        return out

    def samples(self) -> list[list[float | None]]:
        """Every series' samples, to change in place."""
        return [s.samples for s in self.sim.series.values()]

    def add(
        self,
        scope: dict[str, str],
        timeline: Sequence[Phase],
        relabel: dict[str, str] | None = None,
        spreads: Sequence[Spread] = (),
    ) -> Simulation:
        """Synthesize a scope's series; `relabel` then moves them outside the selectors
        (the kind synthesizes in-scope series; we only change the label afterwards),
        and `spreads` split each over further label values."""
        if not relabel and not spreads:
            self.alert.synthesize(self.sim, self.resolve, scope, timeline)
            return self
        inner = SeriesSet(self.sim.step, self.sim.length, every=self.every, target=TARGET)
        self.alert.synthesize(inner, self.resolve, scope, timeline)
        made = [
            (s.metric, {**dict(s.labels), **(relabel or {})}, list(s.samples)) for _, s in sorted(inner.series.items())
        ]
        for spread in spreads:
            split = []
            seen: set[str] = set()
            for metric, labels, samples in made:
                parts = spread.parts(metric not in seen)
                seen.add(metric)
                share = [None if v is None else v / len(parts) for v in samples]
                split += [(metric, {**labels, spread.label: value}, share) for value in parts]
            made = split
        for metric, labels, samples in made:
            self.sim.put(metric, labels, samples)
        return self

    def add_stalled(self, label: str, value: str) -> Simulation:
        """Beside the first series of each metric, one more with `label` set to `value`
        that holds its largest sample from start to end: a counter that stopped counting.
        It adds nothing a correct rule counts, while a rule that takes a flat counter for
        a reset counts its whole value."""
        seen: set[str] = set()
        for _, series in sorted(self.sim.series.items()):
            values = [v for v in series.samples if v is not None]
            if series.metric in seen or not values or max(values) <= 0:
                continue
            seen.add(series.metric)
            labels = {**dict(series.labels), label: value}
            if (series.metric, tuple(sorted(labels.items()))) not in self.sim.series:
                self.sim.put(series.metric, labels, [max(values)] * self.sim.length)
        return self

    def add_noise(self, excluded: Sequence[tuple[str, str]], factor: float = NOISE_FACTOR) -> Simulation:
        """`factor` times every series so far with each (label, excluded value) set
        (summed where copies meet): traffic a correct rule never reads, as every
        selector excludes the value. Ten times the real traffic swamps it, so a rule
        that reads the noise on either side of a ratio lands far from the threshold,
        whichever way. One pass over the series there were before: a copy is never
        copied again, so the series grow by one set per excluded value."""
        copies: dict[tuple[str, tuple[tuple[str, str], ...]], list[float | None]] = {}
        originals = sorted(self.sim.series.items())
        for label, value in excluded:
            for _, series in originals:
                labels = {**dict(series.labels), label: value}
                key = (series.metric, tuple(sorted(labels.items())))
                scaled = [None if v is None else v * factor for v in series.samples]
                known = copies.get(key)
                copies[key] = (
                    scaled
                    if known is None
                    else [None if a is None or b is None else a + b for a, b in zip(known, scaled, strict=True)]
                )
        for (metric, pairs), samples in copies.items():
            self.sim.put(metric, dict(pairs), samples)
        return self

    def run(self) -> list[list[Firing]]:
        """Firing alerts at every sample step (as of the latest evaluation)."""
        with self.sim.reading():
            truth = self.alert.evaluate(self.sim, self.resolve)[:: self.every]
        states = alert_states(truth, self.alert.variant_fors(), self.alert.keep_firing_for, self.sim.step * self.every)
        # Step i holds the state of evaluation i // every (the same list object).
        return list(islice(chain.from_iterable(map(repeat, states, repeat(self.every))), self.sim.length))
