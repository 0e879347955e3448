"""Scenario plans that prove each alert: the series that make it fire and stay silent,
and which alerts fire at chosen evaluation times.

The kind synthesizes series and states its intent (`evaluate`) and its invariants
(what no data means); this module runs the alert state machine over them and turns
the result into checks, knowing no kind. Promtool then runs the real generated rules
on the same series. Plans do not depend on the environment: `testgen` expands them
with each environment's labels and annotations.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, compress, count, islice, repeat
from operator import add, is_not, mul, ne, sub
from typing import cast

from rulesgen.kinds.base import AlertModel, Resolve
from rulesgen.kinds.toolkit import BREACH, IDLE, SAFE, Phase
from rulesgen.promql import Duration
from rulesgen.spec.models import LabelSet
from rulesgen.testgen.model.alertstate import Firing, alert_states
from rulesgen.testgen.model.series import ScenarioError, SeriesSet

# A label that tells apart a series the counter scenarios add (an idle series that has
# existed all along) from the scope's own series; alerts sum it away.
WITNESS_LABEL = "rulesgen_series"
OUT_OF_STEP_CHECKS = 30  # evaluations checked one by one in the out-of-step scenario


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
    series: tuple[tuple[str, str], ...]  # (series, values) in promtool notation
    checks: tuple[PlannedCheck, ...]
    eval_step: Duration  # rule evaluation interval, a multiple of `step`


class Simulation:
    """One alert's series and the firing alerts they lead to, step by step."""

    def __init__(self, alert: AlertModel, resolve: Resolve, step: Duration, length: int, every: int = 1) -> None:
        self.alert = alert
        self.resolve = resolve
        self.sim = SeriesSet(step, length, every=every)
        self.every = every  # rules are evaluated every `every` samples

    def add(
        self, scope: dict[str, str], timeline: Sequence[Phase], relabel: dict[str, str] | None = None
    ) -> Simulation:
        """Synthesize a scope's series; `relabel` then moves them outside the selectors
        (the kind synthesizes in-scope series; we only change the label afterwards)."""
        if not relabel:
            self.alert.synthesize(self.sim, self.resolve, scope, timeline)
            return self
        inner = SeriesSet(self.sim.step, self.sim.length, every=self.every)
        self.alert.synthesize(inner, self.resolve, scope, timeline)
        for series in inner.series.values():
            self.sim.put(series.metric, {**dict(series.labels), **relabel}, series.samples)
        return self

    def run(self) -> list[list[Firing]]:
        """Firing alerts at every sample step (as of the latest evaluation)."""
        truth = self.alert.evaluate(self.sim, self.resolve)[:: self.every]
        states = alert_states(truth, self.alert.variant_fors(), self.alert.keep_firing_for, self.sim.step * self.every)
        # Step i holds the state of evaluation i // every (the same list object).
        return list(islice(chain.from_iterable(map(repeat, states, repeat(self.every))), self.sim.length))


def notation(samples: Sequence[float | None]) -> str:
    """promtool's expanding notation, runs of equal steps folded into `a+bxn`."""
    key = tuple(samples)
    text = _NOTATION.get(key)
    if text is None:
        text = _notation(key)
        if len(_NOTATION) >= NOTATION_MEMO:
            _NOTATION.pop(next(iter(_NOTATION)))  # the oldest entry
        _NOTATION[key] = text
    return text


# Alerts of one shape (the same thresholds and windows, other metrics or label
# values) synthesize the same sample sequences again and again, some thousands of
# samples long: writing one costs far more than hashing it. Samples equal as keys
# (floats, so 0.0 and -0.0) write the same notation. Bounded, oldest first out.
NOTATION_MEMO = 256
_NOTATION: dict[tuple[float | None, ...], str] = {}


def _notation(samples: tuple[float | None, ...]) -> str:
    # Scenario series run to thousands of samples (a latency baseline a week back), so
    # the scans run in C (tuple.index, map, compress, list equality) rather than as a
    # Python loop per sample.
    parts: list[str] = []
    n = len(samples)
    i = 0
    while i < n:
        if samples[i] is None:
            # First present sample after i (n when the series ends without samples).
            j = next(compress(count(i), map(is_not, samples[i:], repeat(None))), n)
            parts.append("_" if j == i + 1 else f"_x{j - i}")
            i = j
            continue
        try:
            j = samples.index(None, i)
        except ValueError:
            j = n
        # A fold never spans a missing sample: fold each present stretch on its own.
        _fold(cast(tuple[float, ...], samples[i:j]), parts)
        i = j
    return " ".join(parts)


def _fold(values: tuple[float, ...], parts: list[str]) -> None:
    """Append the notation of present samples: from each sample, the longest run of
    equal differences is folded into `a+bxn` when promtool's `a + b*k` reproduces every
    sample of it exactly; otherwise the sample is written alone and the next one tried."""
    m = len(values)
    deltas = list(map(sub, values[1:], values))  # deltas[k] = values[k+1] - values[k]
    # Sample indices where a run of equal differences ends: a run from difference k
    # reaches the first end after k.
    ends = [*compress(count(1), map(ne, deltas[1:], deltas)), m - 1]
    i = 0
    while i < m:
        value = values[i]
        if i + 1 < m:
            delta = deltas[i]
            j = ends[bisect_right(ends, i)] if delta == delta else i  # a NaN difference equals nothing
            # promtool computes a+bxn as a + b*k: only fold when that reproduces the samples exactly.
            if j > i and list(map(add, repeat(value), map(mul, repeat(delta), range(j - i + 1)))) == list(
                values[i : j + 1]
            ):
                sign = "+" if delta >= 0 else "-"
                parts.append(f"{_num(value)}{sign}{_num(abs(delta))}x{j - i}")
                i = j + 1
                continue
        parts.append(_num(value))
        i += 1


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Planner:
    """Builds the scenarios of one compiled alert."""

    def __init__(self, alert: AlertModel, resolve: Resolve, label_sets: dict[str, LabelSet]) -> None:
        self.alert = alert
        self.resolve = resolve
        self.label_sets = label_sets
        self.step = self.alert.scenario_step()
        self.eval_step = self.alert.evaluation_step()
        self.k = self.eval_step.ms // self.step.ms
        self.warm = self.alert.warmup(self.step)
        # A few evaluations past the kind's own horizon, however coarse they are.
        self.horizon = self.alert.horizon(self.step) + 3 * self.k

    # --- scopes ---------------------------------------------------------------------

    def scopes(self) -> tuple[dict[str, str], dict[str, str] | None, list[dict[str, str]]]:
        """The main scope, a second one differing in a grouping label (or None), and
        scopes outside the alert's common matchers.

        Scope values satisfy every selector's matchers on that label, so each
        selector reads the scope's series."""
        uses = [self.resolve(use.selector) for use in self.alert.selectors()]
        common = {m.label: m for m in self.alert.common_matchers(self.resolve)}
        main: dict[str, str] = {}
        inside: dict[str, list[str]] = {}
        outside: list[dict[str, str]] = []
        for label in sorted(set(self.alert.grouping()) | set(common)):
            constraints = [m for matchers in uses for m in matchers if m.label == label]
            known = [v for s in self.label_sets.values() if s.label == label for v in (*s.values, *s.others)]
            candidates = [v for m in constraints if not m.negate for v in m.values]
            candidates = list(dict.fromkeys([*candidates, *known, f"{label}-a", f"{label}-b"]))
            inside[label] = [v for v in candidates if all(m.matches(v) for m in constraints)]
            if not inside[label]:
                raise ScenarioError(
                    f"no value of {label!r} satisfies every selector's matchers: the alert can never fire"
                )
            main[label] = inside[label][0]
            if label in common:
                others = [v for v in [*known, f"not-{main[label]}"] if not common[label].matches(v)]
                outside.append({label: others[0]})
        second = None
        for label in self.alert.grouping():
            if len(inside[label]) > 1:
                second = {**main, label: inside[label][1]}
                break
        return main, second, outside

    def scenario(
        self, name: str, purpose: str, sim: Simulation, states: list[list[Firing]], steps: Sequence[int]
    ) -> Plan:
        k = sim.every  # samples per evaluation: self.k, or twice that for samples out of step
        last = max(steps) - max(steps) % k
        series = tuple((s.text(), notation(s.samples[: last + 1])) for _, s in sorted(sim.sim.series.items()))
        # Checks sit on evaluation steps; `fire - k` is "one evaluation before".
        at = sorted({i - i % k for i in steps if i >= 0})
        checks = tuple(PlannedCheck(i, tuple(states[i])) for i in at)
        return Plan(name, purpose, sim.sim.step, series, checks, self.eval_step)

    def simulate(
        self,
        scopes: Sequence[tuple[dict[str, str], Sequence[Phase]]],
        length: int,
        relabel: dict[str, str] | None = None,
    ) -> tuple[Simulation, list[list[Firing]]]:
        sim = Simulation(self.alert, self.resolve, self.step, length, self.k)
        for scope, timeline in scopes:
            sim.add(scope, timeline, relabel)
        return sim, sim.run()

    # --- the scenarios --------------------------------------------------------------

    def plan(self) -> list[Plan]:
        main, second, outside = self.scopes()
        warm, horizon = self.warm, self.horizon
        length = warm + horizon
        out: list[Plan] = []

        sim, states = self.simulate([(main, [Phase(SAFE, length)])], length)
        self._require(not any(states), "healthy traffic fires")
        out.append(self.scenario("healthy", "healthy", sim, states, [warm, (warm + length) // 2, length - 1]))

        for level in self.alert.firing_levels():
            out.extend(self._breach(level, main, second))

        invariants = self.alert.invariants
        sim, states = self.simulate([(main, [Phase(IDLE, length)])], length)
        out.append(self._invariant("no_data", "no_data", sim, states, invariants.no_data_fires, "no data"))

        for relabel in outside:
            breach = [Phase(SAFE, warm), Phase(self.alert.firing_levels()[0], horizon)]
            sim, states = self.simulate([(main, breach)], length, relabel)
            label = next(iter(relabel))
            fires = invariants.outside_matchers_fire
            what = "a breach outside the alert's matchers"
            out.append(self._invariant(f"outside_{label}", "label_scope", sim, states, fires, what))

        if invariants.exact_counters:
            out.extend(self._counter_scenarios(main))

        for name, timeline in self.alert.extra_firing_scenarios(warm, horizon):
            sim, states = self.simulate([(main, timeline)], length)
            fire = self._first(states)
            self._require(fire is not None, f"{name} never fires")
            assert fire is not None
            out.append(self.scenario(name, "breach", sim, states, [fire - self.k, fire, fire + self.k]))

        for name, timeline in self.alert.extra_silent_scenarios(warm, horizon):
            sim, states = self.simulate([(main, timeline)], length)
            self._require(not any(states), f"{name} fires")
            out.append(self.scenario(name, "silent", sim, states, [warm, length - 1]))
        return out

    # --- counters counted exactly ----------------------------------------------------

    def _counter_scenarios(self, main: dict[str, str]) -> list[Plan]:
        """What exact counting means, for kinds that declare it: a series born inside the
        window counts its first value; lifetime totals seen by a Prometheus that has just
        started do not; a reset with no new events is silent; samples out of step with
        evaluation are counted exactly (no extrapolation past the threshold)."""
        warm, horizon = self.warm, self.horizon
        length = warm + horizon
        first = self.alert.firing_levels()[0]
        out = []

        # Born: the scope's series appear with their first events (nothing before, as a
        # client library creates a labelled counter on its first increment) while an
        # idle series of the same metric has existed all along (the metric has history).
        # A kind with a burst level is born with a whole window's breach in one sample
        # (a first failure on a new series), unless `for` outlasts what a burst keeps in
        # the window; otherwise the series is born into a sustained breach.
        burst = self.alert.burst_level()
        timelines = [[Phase(IDLE, warm), Phase(first, horizon)]]
        if burst:
            timelines.insert(0, [Phase(IDLE, warm), Phase(burst, 1), Phase(IDLE, horizon)])
        for timeline in timelines:
            sim = Simulation(self.alert, self.resolve, self.step, length, self.k)
            sim.add(main, timeline)
            births = [self._born(samples) for samples in self._samples(sim)]
            sim.add(main, [Phase(IDLE, length)], relabel={WITNESS_LABEL: "existing"})
            states = sim.run()
            fire = self._first(states)
            if fire is not None:
                born = min(births)
                checks = [born, fire - self.k, fire, fire + self.k]
                out.append(self.scenario("born_in_window", "counters", sim, states, checks))
                break
        self._require(bool(out), "a series born with a breach never fires")

        # Fresh start: the series appear with lifetime totals past the threshold, but
        # nothing of the metric existed a window earlier: they are not new events.
        sim = Simulation(self.alert, self.resolve, self.step, horizon + length, self.k)
        sim.add(main, [Phase(first, horizon), Phase(SAFE, length)])
        for samples in self._samples(sim):
            samples[:horizon] = [None] * horizon
        states = sim.run()
        self._require(self._first(states) is None, "lifetime totals at a fresh start fire")
        out.append(self.scenario("fresh_start", "counters", sim, states, [horizon, horizon + length - 1]))

        # Reset: every counter drops to 0 and stays there for a while, then healthy
        # traffic resumes: only the events since the reset count.
        reset = warm + 1
        sim = Simulation(self.alert, self.resolve, self.step, length, self.k)
        sim.add(main, [Phase(SAFE, warm), Phase(IDLE, horizon // 2), Phase(SAFE, horizon)])
        for samples in self._samples(sim):
            base = samples[reset - 1] or 0.0
            samples[reset:] = [v - base if v is not None else None for v in samples[reset:]]
        states = sim.run()
        self._require(self._first(states) is None, "a counter reset fires")
        out.append(self.scenario("reset", "counters", sim, states, [reset, warm + horizon // 2, length - 1]))

        # Out of step: healthy traffic scraped half a step after each evaluation.
        half = Duration(self.step.ms // 2)
        sim = Simulation(self.alert, self.resolve, half, 2 * length, 2 * self.k)
        sim.add(main, [Phase(SAFE, 2 * length)])
        for samples in self._samples(sim):
            samples[:] = [v if i % 2 else None for i, v in enumerate(samples)]
        states = sim.run()
        self._require(self._first(states) is None, "healthy traffic sampled out of step with evaluation fires")
        # Checked at every evaluation for a while: increase()'s extrapolation overshoots
        # at some phases of the traffic only.
        every = range(2 * warm, min(2 * length, 2 * warm + 2 * self.k * OUT_OF_STEP_CHECKS), 2 * self.k)
        out.append(self.scenario("out_of_step", "counters", sim, states, [*every, 2 * length - 1]))
        return out

    @staticmethod
    def _samples(sim: Simulation) -> list[list[float | None]]:
        return [series.samples for series in sim.sim.series.values()]

    @staticmethod
    def _born(samples: list[float | None]) -> int:
        """Blank a counter until its first event: it is born with that count. Its birth step."""
        at = next((i for i, v in enumerate(samples) if v), len(samples))
        samples[:at] = [None] * at
        return at

    def _invariant(
        self, name: str, purpose: str, sim: Simulation, states: list[list[Firing]], fires: bool, what: str
    ) -> Plan:
        """A scenario whose outcome the kind declares: it fires (checked just before and
        when it does) or stays silent throughout."""
        first = self._first(states)
        if not fires:
            self._require(first is None, f"{what} fires")
            return self.scenario(name, purpose, sim, states, [self.warm, len(states) - 1])
        self._require(first is not None, f"{what} never fires, though the kind says it does")
        assert first is not None
        return self.scenario(name, purpose, sim, states, [first - self.k, first, len(states) - 1])

    def _first(self, states: list[list[Firing]], variant: int | None = None, start: int = 0) -> int | None:
        for i in compress(range(start, len(states)), states[start:]):  # steps where anything fires
            if variant is None or any(f.variant == variant for f in states[i]):
                return i
        return None

    def _breach(self, level: str, main: dict[str, str], second: dict[str, str] | None) -> list[Plan]:
        warm, horizon = self.warm, self.horizon
        length = warm + horizon
        variant = self.alert.firing_levels().index(level) if len(self.alert.variant_fors()) > 1 else 0
        suffix = "" if level == BREACH else f"_{level.removeprefix('breach_')}"
        out = []

        sim, states = self.simulate([(main, [Phase(SAFE, warm), Phase(level, horizon)])], length)
        fire = self._first(states, variant)
        self._require(fire is not None, f"{level} never fires within {horizon} steps")
        assert fire is not None
        out.append(self.scenario(f"breach{suffix}", "breach", sim, states, [fire - self.k, fire, fire + self.k]))
        if level != self.alert.firing_levels()[0]:
            # Further levels (burn-rate tiers) prove their own threshold and `for`;
            # recovery and short breaches are the same machinery, shown once.
            return out

        # Recovery: back to healthy two steps after it fires; it resolves (after keep_firing_for).
        back = fire + 2 * self.k
        total = back + horizon
        sim, states = self.simulate(
            [(main, [Phase(SAFE, warm), Phase(level, back - warm), Phase(SAFE, horizon)])], total
        )
        resolved = next((i for i in range(back, total) if not any(f.variant == variant for f in states[i])), None)
        self._require(resolved is not None, f"{level} never resolves")
        assert resolved is not None
        out.append(self.scenario(f"recovery{suffix}", "recovery", sim, states, [fire, resolved - self.k, resolved]))

        fors = self.alert.variant_fors()
        if fors[variant].ms > 0:
            out.extend(self._short_breach(level, variant, main, suffix, longest=fire - self.warm))

        if second is not None:
            sim, states = self.simulate(
                [(main, [Phase(SAFE, warm), Phase(level, horizon)]), (second, [Phase(SAFE, length)])], length
            )
            fire = self._first(states, variant)
            assert fire is not None
            out.append(self.scenario("one_group_only", "label_scope", sim, states, [fire, length - 1]))
        return out

    def _short_breach(self, level: str, variant: int, main: dict[str, str], suffix: str, longest: int) -> list[Plan]:
        """The longest breach that stays pending: it must never fire."""
        warm, horizon = self.warm, self.horizon

        def run(k: int) -> tuple[Simulation, list[list[Firing]]]:
            timeline = [Phase(SAFE, warm), Phase(level, k), Phase(SAFE, horizon)]
            return self.simulate([(main, timeline)], warm + k + horizon)

        # A longer breach fires whenever a shorter one does, and one as long as it took
        # the sustained breach to fire surely does: binary search the longest silent one.
        lo, hi, best = 1, min(longest, horizon), None
        while lo <= hi:
            k = (lo + hi) // 2
            sim, states = run(k)
            if self._first(states, variant) is None:
                best, lo = (sim, states, k), k + 1
            else:
                hi = k - 1
        if best is None:
            return []
        sim, states, k = best
        return [
            self.scenario(
                f"short_breach{suffix}",
                "short_breach",
                sim,
                states,
                [warm + k, warm + k + self.k, warm + k + horizon - 1],
            )
        ]

    def _require(self, ok: bool, what: str) -> None:
        if not ok:
            raise ScenarioError(f"cannot build tests for {self.alert.name}: {what}")


def plan_scenarios(alert: AlertModel, resolve: Resolve, label_sets: dict[str, LabelSet]) -> list[Plan]:
    """Every generated scenario of one alert (the same in every environment it is unchanged in)."""
    return Planner(alert, resolve, label_sets).plan()
