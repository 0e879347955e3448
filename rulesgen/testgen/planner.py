"""Scenario plans that prove each alert: the series that make it fire and stay silent,
and which alerts fire at chosen evaluation times.

The kind synthesizes series and states its intent (`evaluate`) and its invariants
(what no data means); this module runs the alert state machine over them and turns
the result into checks, knowing no kind. Promtool then runs the real generated rules
on the same series. Plans do not depend on the environment: `testgen` expands them
with each environment's labels and annotations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import compress, islice

from rulesgen.ir import Labels
from rulesgen.kinds.base import AlertModel, Resolve
from rulesgen.kinds.toolkit import BREACH, HISTORY, IDLE, SAFE, ForEdge, Phase, Sampled
from rulesgen.model.alertstate import Firing
from rulesgen.model.series import ScenarioError
from rulesgen.promql import Duration
from rulesgen.spec.models import LabelSet
from rulesgen.testgen.families import fault_plans
from rulesgen.testgen.samples import input_series
from rulesgen.testgen.simulation import Plan, PlannedCheck, Shape, Simulation, Spread

# A label that tells apart a series the counter scenarios add (an idle series that has
# existed all along) from the scope's own series; alerts sum it away.
WITNESS_LABEL = "rulesgen_series"
# Evaluations a scenario that must stay silent checks one by one, at most (out of step,
# fresh start): a wrong rule fires at some of them only.
EVALUATIONS_CHECKED = 30
OUTSIDE_VALUES = 8  # values a negated matcher is proven to exclude, at most


class Planner:
    """Builds the scenarios of one compiled alert."""

    def __init__(
        self,
        alert: AlertModel,
        resolve: Resolve,
        label_sets: dict[str, LabelSet],
        metric_labels: Mapping[str, Sequence[str]] | None = None,
        elsewhere: Mapping[tuple[str, str], Sequence[str]] | None = None,
    ) -> None:
        self.alert = alert
        self.resolve = resolve
        self.label_sets = label_sets
        self.metric_labels = metric_labels or {}
        # Per (metric, label), the values other alerts' matchers name (see excluded_values).
        self.elsewhere = elsewhere or {}
        # Per matched label, the values its matchers name that every selector accepts.
        self.named: dict[str, list[str]] = {}
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
            named = [v for m in constraints if not m.negate for v in m.values]
            self.named[label] = [v for v in dict.fromkeys(named) if v in inside[label]]
            if label in common:
                others = [v for v in [*known, f"not-{main[label]}"] if not common[label].matches(v)]
                # A matcher that excludes values (`!~`) is proven on each of them: any one
                # let through pages; a matcher that selects needs one value outside.
                many = common[label].negate
                outside.extend({label: v} for v in (others[:OUTSIDE_VALUES] if many else others[:1]))
        second = None
        for label in self.alert.grouping():
            if len(inside[label]) > 1:
                second = {**main, label: inside[label][1]}
                break
        return main, second, outside

    # --- shapes: what makes a wrong rule visible ---------------------------------------

    def spare_label(self) -> str | None:
        """A label every read metric carries (per the spec's metric catalog) that the
        alert neither groups by nor matches on: what its sums add up over. Without one,
        `job`: every scraped series has it, and two jobs exporting one instance are what
        a sum adds up."""
        uses = list(self.alert.selectors())
        constrained = set(self.alert.grouping()) | {"le"}
        constrained |= {m.label for use in uses for m in self.resolve(use.selector)}
        catalog = [set(self.metric_labels.get(use.selector.metric, ())) for use in uses]
        spare = sorted(set.intersection(*catalog) - constrained) if catalog else []
        if spare:
            return spare[0]
        return None if "job" in constrained else "job"

    def excluded_values(self) -> list[tuple[str, str]]:
        """(label, value) pairs that every matcher on the label rejects: each value other
        alerts name for the metric (`succeeded` beside `failed`: real traffic, and what a
        recording rule shared with them lets through), then a label set's `others` where
        there are some (testnets), else a made-up `other-<label>`: at most two per label."""
        uses = list(self.alert.selectors())
        matchers = [m for use in uses for m in self.resolve(use.selector)]
        metrics = sorted({use.selector.metric for use in uses})
        out: list[tuple[str, str]] = []
        for label in sorted({m.label for m in matchers}):

            def rejected(value: str, label: str = label) -> bool:
                return not any(m.matches(value) for m in matchers if m.label == label)

            # One value another alert names, not all of them: a wrong rule that reads
            # outside its matchers (a matcher dropped, negated or widened) reads every
            # rejected value alike, so a second one proves nothing the first does not,
            # while each costs a copy of the scenario's series and, at thousands of
            # alerts naming values of one metric, made planning quadratic. A rule that
            # swaps the named value for another reads none of the scope's traffic,
            # which the breach scenarios show without noise.
            named = [v for metric in metrics for v in self.elsewhere.get((metric, label), ())]
            out.extend((label, v) for v in islice((v for v in dict.fromkeys(named) if rejected(v)), 1))
            known = [v for s in self.label_sets.values() if s.label == label for v in s.others]
            for value in [*known, f"other-{label}"]:
                if rejected(value):
                    out.append((label, value))
                    break
        return out

    def shape(self) -> Shape:
        grouped = set(self.alert.grouping())
        spreads = [
            Spread(label, tuple(values))
            for label, values in sorted(self.named.items())
            if label not in grouped and len(values) > 1
        ]
        spare = self.spare_label() if self.alert.invariants.sums_split else None
        if spare is not None:
            spreads.append(Spread(spare, (f"{spare}-a", f"{spare}-b")))
        stall = self.spare_label()
        stalled = ((stall, f"{stall}-stalled"),) if stall is not None else ()
        return Shape(tuple(spreads), tuple(self.excluded_values()), stalled)

    def alternates(self, scope: dict[str, str]) -> list[dict[str, str]]:
        """The scope again with every other named value of each label the alert groups
        by (arbitrum next to polygon): each value a matcher names must page by itself."""
        out = []
        for label in self.alert.grouping():
            for value in self.named.get(label, ())[1:]:
                if value != scope.get(label):
                    out.append({**scope, label: value})
        return out

    def shaped(
        self,
        scopes: Sequence[tuple[dict[str, str], Sequence[Phase]]],
        length: int,
        accept: Callable[[list[list[Firing]]], bool],
        noisy: bool = True,
    ) -> tuple[Simulation, list[list[Firing]]]:
        """The scenario with its series spread, a stalled counter and (when `noisy`)
        excluded traffic beside it, each kept only where it leaves the outcome as the
        intent `accept`s it: the stall and the noise must change nothing at all."""
        shape = self.shape()
        sim, states = self.simulate(scopes, length, spreads=shape.spreads)
        if not accept(states):
            sim, states = self.simulate(scopes, length)
        # Each trial adds to a copy of the series so far, as `simulate` would add to the
        # scopes' series synthesized again.
        plain = sim
        for stall in shape.stalled:
            trial = plain.copy().add_stalled(*stall)
            if trial.run() == states:
                sim = trial
        noise = shape.noise if noisy else ()
        # All the noise at once changes nothing in the common case: one trial, not one
        # per value. Otherwise (a side of a ratio that reads some excluded value), value
        # by value, keeping each that still changes nothing.
        trials = [noise] if len(noise) < 2 else [noise, *[(n,) for n in noise]]
        kept: tuple[tuple[str, str], ...] = ()
        quiet = sim
        for trial_noise in trials if noise else ():
            trial = quiet.copy().add_noise((*kept, *trial_noise))
            trial_states = trial.run()
            if trial_states == states:
                kept = (*kept, *trial_noise)
                sim = trial
                if kept == noise:
                    break
        return sim, states

    def scenario(
        self, name: str, purpose: str, sim: Simulation, states: list[list[Firing]], steps: Sequence[int]
    ) -> Plan:
        k = sim.every  # samples per evaluation: self.k, or twice that for samples out of step
        last = max(steps) - max(steps) % k
        series = tuple(input_series(s.metric, s.labels, s.samples[: last + 1]) for s in sim.sim.with_targets())
        # Checks sit on evaluation steps; `fire - k` is "one evaluation before".
        at = sorted({i - i % k for i in steps if i >= 0})
        checks = tuple(PlannedCheck(i, tuple(states[i])) for i in at)
        return Plan(name, purpose, sim.sim.step, series, checks, sim.sim.step * k)

    def simulate(
        self,
        scopes: Sequence[tuple[dict[str, str], Sequence[Phase]]],
        length: int,
        relabel: dict[str, str] | None = None,
        spreads: Sequence[Spread] = (),
        noise: Sequence[tuple[str, str]] = (),
        stalled: Sequence[tuple[str, str]] = (),
    ) -> tuple[Simulation, list[list[Firing]]]:
        sim = Simulation(self.alert, self.resolve, self.step, length, self.k)
        sim.spreads = tuple(spreads)
        for scope, timeline in scopes:
            sim.add(scope, timeline, relabel, spreads)
        for label, value in stalled:
            sim.add_stalled(label, value)
        if noise:
            sim.add_noise(noise)
        return sim, sim.run()

    # --- the scenarios --------------------------------------------------------------

    def plan(self) -> list[Plan]:
        main, second, outside = self.scopes()
        warm, horizon = self.warm, self.horizon
        length = warm + horizon
        out: list[Plan] = []

        sim, states = self.shaped([(main, [Phase(SAFE, length)])], length, lambda states: not any(states))
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
            label, value = next(iter(relabel.items()))
            fires = invariants.outside_matchers_fire
            what = "a breach outside the alert's matchers"
            name = f"outside_{label}"
            if sum(next(iter(r)) == label for r in outside) > 1:
                name += "_" + re.sub(r"[^A-Za-z0-9_]+", "_", value).strip("_")
            out.append(self._invariant(name, "label_scope", sim, states, fires, what))

        if invariants.exact_counters:
            out.extend(self._counter_scenarios(main))

        for name, timeline in self.alert.extra_firing_scenarios(warm, horizon):
            sim, states = self.simulate([(main, timeline)], length)
            out.append(self._fires(name, "breach", sim, states, f"{name} never fires"))

        for name, timeline in self.alert.boundary_scenarios(warm, self.k):
            out.append(self._boundary(name, main, timeline))

        for edge in self.alert.for_edges():
            out.append(self._sampled(main, edge, "for"))
            if invariants.exact_counters and edge.births:
                # Born into the breach and evaluated as finely: a rule that misses the
                # births of some value in a short window pages that window late.
                born = self._born_plan(f"born_in_window_{edge.name}", main, [main], edge.timeline, edge)
                out.extend([born] if born is not None else [])
                out.extend(self._born_apart(main, edge.timeline, edge))
                out.append(self._fresh_edge(main, edge))
                out.extend(self._restart_edge(main, edge))

        for sampled in self.alert.sampled_firing_scenarios():
            out.append(self._sampled(main, sampled, "breach"))

        for name, timeline in self.alert.extra_silent_scenarios(warm, horizon):
            sim, states = self.simulate([(main, timeline)], length)
            self._require(not any(states), f"{name} fires")
            out.append(self.scenario(name, "silent", sim, states, [warm, length - 1]))
        return [*out, *fault_plans(self, main)]

    # --- what scenario families read (rulesgen.testgen.families) -----------------------

    def new_sim(self, length: int, step: Duration | None = None, every: int | None = None) -> Simulation:
        """An empty simulation of `length` steps, at the alert's own step and evaluation
        unless told otherwise."""
        return Simulation(self.alert, self.resolve, step or self.step, length, every or self.k)

    def sim_steps(self, duration: Duration) -> int:
        return -(-duration.ms // self.step.ms)

    def first(self, states: list[list[Firing]]) -> int | None:
        return self._first(states)

    def changes(self, states: list[list[Firing]]) -> list[int]:
        return self._changes(states)

    @staticmethod
    def lifetime_totals(sim: Simulation) -> None:
        Planner._lifetime_totals(sim)

    @staticmethod
    def blank_until_first_event(samples: list[float | None]) -> int:
        return Planner._born(samples)

    def _sampled(self, main: dict[str, str], sampled: Sampled, purpose: str) -> Plan:
        """A breach sampled every `sampled.step` and evaluated every `sampled.every`
        samples, checked one evaluation before and at every change of what fires: half
        the `for` of a for edge or twice it, or a window halved or doubled, moves one."""
        length = sum(phase.steps for phase in sampled.timeline)
        sim = Simulation(self.alert, self.resolve, sampled.step, length, sampled.every)
        sim.add(main, sampled.timeline)
        start, steps = sampled.gap
        for samples in self._samples(sim):
            samples[start : start + steps] = [None] * len(samples[start : start + steps])
        states = sim.run()
        self._require(self._first(states) is not None, f"{sampled.name} never fires")
        # A stalled counter beside it (not through an outage, which it would bridge),
        # where it changes nothing: a rule that takes no events in a window for a
        # reset counts its whole value there.
        stalls = self.shape().stalled if self.alert.invariants.exact_counters and not steps else ()
        for stall in stalls:
            trial = sim.copy().add_stalled(*stall)
            if trial.run() == states:
                sim = trial
        return self.scenario(sampled.name, purpose, sim, states, self._changes(states, sampled.every))

    def _fires(
        self,
        name: str,
        purpose: str,
        sim: Simulation,
        states: list[list[Firing]],
        what: str,
        before: Sequence[int] = (),
    ) -> Plan:
        """A scenario that must fire (`what` says otherwise): checked one evaluation before
        it does, when it does and one evaluation after, and at the steps `before`."""
        fire = self._first(states)
        self._require(fire is not None, what)
        assert fire is not None
        return self.scenario(name, purpose, sim, states, [*before, fire - sim.every, fire, fire + sim.every])

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
        # Every value a matcher names is born (arbitrum beside polygon): a rule that
        # counted births of one value only pages late, or never, for the others.
        for timeline in timelines:
            born = self._born_plan("born_in_window", main, [main, *self.alternates(main)], timeline)
            if born is not None:
                out.append(born)
                break
        self._require(bool(out), "a series born with a breach never fires")
        out.extend(self._born_apart(main, timeline))
        out.extend(self._born_after_start(main, window) for window in self.alert.counting_windows())

        # Fresh start: Prometheus starts while the exporters hold lifetime totals past
        # the threshold, and no new event comes: nothing of the metric existed a window
        # earlier, so the totals are not events and nothing pages. No traffic after the
        # start: until the metric has a window of history a fresh Prometheus counts with
        # increase(), extrapolated, and reads traffic just at the threshold (3 events a
        # 5m window) as 3.5. The empty history keeps a kind that opens every scenario
        # with idle counters (a burn rate) from starting the totals at 0. Checked at
        # every evaluation for a while: a rule counting the totals pages `for` after
        # the start, and only until its windows reach back past it.
        sim = Simulation(self.alert, self.resolve, self.step, horizon + length, self.k)
        sim.add(main, [Phase(HISTORY, 0), Phase(first, horizon), Phase(IDLE, length)])
        for samples in self._samples(sim):
            self._fresh(samples, horizon, rebase=False)
        states = sim.run()
        self._require(self._first(states) is None, "lifetime totals at a fresh start fire")
        # The window that reaches furthest back, then the longest `for`, past the start.
        longest = max(self.alert.counting_windows(), default=Duration(0))
        counting = self.sim_steps(longest) + self.sim_steps(max(self.alert.variant_fors()))
        until = min(horizon + length, horizon + counting + self.k + 1, horizon + self.k * EVALUATIONS_CHECKED)
        every = range(horizon, until, self.k)
        out.append(self.scenario("fresh_start", "counters", sim, states, [*every, horizon + length - 1]))

        # Fresh start during a breach: the events keep coming, but nothing counts until
        # the metric has a window of history, so it pages `for` after that and not one
        # evaluation sooner. A rule counting lifetime totals, or looking back less than
        # a window for the metric's history, pages early.
        # At every level (each burn-rate tier alone), checked at every change of what
        # fires: a rule that counts lifetime totals in one window only, or looks back
        # half a window for the metric's history, pages that level early.
        levels = self.alert.firing_levels()
        out.extend(self._fresh_breach(main, None, rebase=False, level=level) for level in levels)

        # One metric fresh while the others have history (a ratio of two counters): it
        # first counts a window after it appears, whether it appears with lifetime
        # totals or from zero. Counting it sooner moves the ratio while the other
        # metric already counts, which a fresh start of both would hide.
        metrics = sorted({use.selector.metric for use in self.alert.selectors()})
        for metric in metrics if len(metrics) > 1 else ():
            out.append(self._fresh_breach(main, metric, rebase=False))
            out.append(self._fresh_breach(main, metric, rebase=True))

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

        out.extend(self._reset_by_one(main))

        # Out of step: healthy traffic scraped half a step after each evaluation, silent
        # once Prometheus has a window of it (before that, a Prometheus that has just
        # started counts with increase(), extrapolation and all).
        half = Duration(self.step.ms // 2)
        window = 2 * max((-(-w.ms // self.step.ms) for w in self.alert.counting_windows()), default=0)
        start = window + -window % (2 * self.k)
        sim = Simulation(self.alert, self.resolve, half, start + 2 * length, 2 * self.k)
        sim.add(main, [Phase(SAFE, start + 2 * length)])
        for samples in self._samples(sim):
            samples[:] = [v if i % 2 else None for i, v in enumerate(samples)]
        states = sim.run()
        # The first sample is half a step in: the first evaluation with a sample a
        # window before it is the first a window after that sample, one evaluation past
        # `start` when the window is a whole number of evaluations. At `start` the
        # window still extrapolates (6 events a 5m window read as 6.25).
        exact = window + 1
        exact += -exact % (2 * self.k)
        self._require(
            self._first(states, start=exact) is None, "healthy traffic sampled out of step with evaluation fires"
        )
        # Checked at every evaluation for a while: increase()'s extrapolation overshoots
        # at some phases of the traffic only.
        end = start + 2 * length
        every = range(start + 2 * warm, min(end, start + 2 * warm + 2 * self.k * EVALUATIONS_CHECKED), 2 * self.k)
        out.append(self.scenario("out_of_step", "counters", sim, states, [*every, end - 1]))
        return out

    @staticmethod
    def _samples(sim: Simulation) -> list[list[float | None]]:
        return [series.samples for series in sim.sim.series.values()]

    def _reset_by_one(self, main: dict[str, str]) -> list[Plan]:
        """A restart during a breach whose first scrape holds one event fewer than the
        counter did a window earlier: `x - x offset w` is -1, a reset, so the events
        since the restart count (the whole value). A rule that takes -1 for the
        increase loses the series' part of the breach for a window. Per window and per
        metric read, the series restarted is the one adding most to the breach."""
        horizon = self.horizon
        windows = self.alert.counting_windows()
        out = []
        for window in windows:
            w = -(-window.ms // self.step.ms)
            # Idle history only as long as the variants reading the window need (see
            # `_warm_for`); the restart and its checks need no more.
            warm = self._warm_for(window)
            length = warm + horizon
            timeline = [Phase(self.alert.firing_levels()[0], length + w)]
            if warm < self.warm:
                history = -(-self.alert.history_for(window).ms // self.step.ms)
                timeline = [Phase(HISTORY, history), Phase(timeline[0].level, length + w - history)]
            at = max(warm + horizon // 2, w + 1)
            at += -at % self.k
            sim, _ = self.shaped(
                [(main, timeline)],
                length + w,
                lambda states: self._first(states) is not None,
                noisy=False,
            )
            name = "reset_by_one" + (f"_{window}" if len(windows) > 1 else "")
            # Mid-window too: the windows shorter than `w` have seen the restart go
            # by, so this window alone decides there.
            checks = [at - self.k, at, at + self.k, at + w // 2, at + w]
            out.extend(self._restarts(sim, at, w, name, checks))
        return out

    def _restarts(
        self, sim: Simulation, at: int, w: int, name: str, checks: Sequence[int], every: int = 0
    ) -> list[Plan]:
        """Per metric, `sim` with lifetime totals whose fastest-growing series restarts at
        `at` one below its value `w` steps earlier, checked at `checks` (and, with
        `every`, at every change of what fires)."""
        self._lifetime_totals(sim)
        metrics = sorted({metric for metric, _ in sim.sim.series})
        out = []
        for metric in metrics:
            restarted = self._restart_by_one(sim, metric, at, w)
            if restarted is not None:
                states = restarted.run()
                full = name + (f"_{metric}" if len(metrics) > 1 else "")
                steps = [*checks, *(self._changes(states, every) if every else ())]
                out.append(self.scenario(full, "counters", restarted, states, steps))
        return out

    @staticmethod
    def _lifetime_totals(sim: Simulation) -> None:
        """Counters that Prometheus first saw far from zero, as real ones are: ten times
        the largest count of the scenario added to every sample. No window's events
        change, but a value counted whole (after a reset) is then a lifetime total that
        swamps a window's events, as it does in production."""
        top = max((v for samples in Planner._samples(sim) for v in samples if v is not None), default=0.0)
        base = float(10 ** len(str(int(top))))
        for samples in Planner._samples(sim):
            samples[:] = [None if v is None else v + base for v in samples]

    def _restart_by_one(self, sim: Simulation, metric: str, at: int, w: int) -> Simulation | None:
        """A copy of `sim` whose fastest-growing series of `metric` restarts at step `at`
        one below its value `w` steps earlier, counting on as before (None: no series)."""
        grown: list[tuple[float, tuple[str, Labels]]] = []
        for key, series in sorted(sim.sim.series.items()):
            before, last = series.samples[at - 1 - w], series.samples[at - 1]
            if key[0] == metric and before is not None and last is not None and series.samples[at] is not None:
                grown.append((last - before, key))
        if not grown:
            return None
        copy = sim.copy()
        samples = copy.sim.series[max(grown, key=lambda g: g[0])[1]].samples
        start = (samples[at - w] or 0.0) - 1 - (samples[at] or 0.0)
        samples[at:] = [v + start if v is not None else None for v in samples[at:]]
        return copy

    def _fresh_breach(self, main: dict[str, str], metric: str | None, rebase: bool, level: str = "") -> Plan:
        """A breach (at `level`, else the first) whose series of `metric` (of every
        metric: None) appear only after a horizon of events Prometheus did not see, with
        those lifetime totals or, with `rebase`, from zero; it fires `for` after their
        window has filled, and is checked at every change of what fires."""
        horizon, length = self.horizon, self.warm + self.horizon
        first = self.alert.firing_levels()[0]
        sim = Simulation(self.alert, self.resolve, self.step, 2 * horizon + length, self.k)
        sim.add(main, [Phase(level or first, 2 * horizon + length)])
        for (name, _), series in sim.sim.series.items():
            if metric in (None, name):
                self._fresh(series.samples, horizon, rebase)
        if metric is None:
            suffix = "" if level in ("", first) else "_" + level.removeprefix("breach_")
            name, what = f"fresh_breach{suffix}", "a breach seen from a fresh start never fires"
        else:
            name = f"fresh_{metric}_{'from_zero' if rebase else 'lifetime'}"
            what = f"a breach with {metric} fresh never fires"
        states = sim.run()
        self._require(self._first(states) is not None, what)
        return self.scenario(name, "counters", sim, states, self._changes(states))

    def _fresh_edge(self, main: dict[str, str], edge: ForEdge) -> Plan:
        """The edge's breach seen from a fresh start, as finely: the series appear with
        lifetime totals where the edge's history ends, and page `for` after that history
        again (a window of the metric's own). A rule that counts lifetime totals in a
        window sooner pages early, by less than an hour on the short tiers."""
        history = edge.timeline[0].steps
        length = 2 * history + sum(phase.steps for phase in edge.timeline[1:])
        sim = Simulation(self.alert, self.resolve, edge.step, length, edge.every)
        sim.add(main, [Phase(HISTORY, 0), Phase(edge.timeline[-1].level, length)])
        for samples in self._samples(sim):
            self._fresh(samples, history, rebase=False)
        states = sim.run()
        self._require(self._first(states) is not None, f"{edge.name} from a fresh start never fires")
        return self.scenario(f"fresh_breach_{edge.name}", "counters", sim, states, self._changes(states, edge.every))

    def _restart_edge(self, main: dict[str, str], edge: ForEdge) -> list[Plan]:
        """The edge's breach for twice its history, then the fastest-growing series
        restarts one below its value a history earlier (see `_reset_by_one`), evaluated
        as finely: the window as long as the history sees -1 all through, and only
        that window still holds the restart once the shorter ones have moved past it."""
        history = edge.timeline[0].steps
        at = 2 * history
        at += -at % edge.every
        length = at + history + 4 * edge.every
        sim = Simulation(self.alert, self.resolve, edge.step, length, edge.every)
        sim.add(main, [edge.timeline[0], Phase(edge.timeline[-1].level, length)])
        return self._restarts(sim, at, history, f"reset_by_one_{edge.name}", [at + history // 2], edge.every)

    def _changes(self, states: list[list[Firing]], every: int = 0) -> list[int]:
        """One evaluation (of `every` steps, else the alert's) before and at every change
        of what fires, and the last step."""
        k = every or self.k
        # The steps of one evaluation share one list (`Simulation.run`): sorted once.
        fired: list[list[tuple[int, Labels]]] = []
        last: list[Firing] | None = None
        for step in states:
            if step is not last:
                last = step
                now = sorted((f.variant, f.labels) for f in step)
            fired.append(now)
        changes = [i for i in range(1, len(states)) if fired[i] is not fired[i - 1] and fired[i] != fired[i - 1]]
        return sorted({c - k for c in changes if c >= k} | set(changes) | {len(states) - 1})

    def _born_plan(
        self,
        name: str,
        main: dict[str, str],
        scopes: Sequence[dict[str, str]],
        timeline: Sequence[Phase],
        edge: ForEdge | None = None,
    ) -> Plan | None:
        """`scopes` born into `timeline` (blank until their first event) beside an idle
        series of the main scope that existed all along, sampled and evaluated as `edge`
        is where there is one; None when that never fires."""
        if edge is None:
            length = min(self.warm + self.horizon, sum(p.steps for p in timeline))
            sim = Simulation(self.alert, self.resolve, self.step, length, self.k)
        else:
            sim = Simulation(self.alert, self.resolve, edge.step, sum(p.steps for p in timeline), edge.every)
        length = sim.sim.length
        for scope in scopes:
            sim.add(scope, timeline)
        births = [self._born(samples) for samples in self._samples(sim)]
        sim.add(main, [Phase(IDLE, length)], relabel={WITNESS_LABEL: "existing"})
        states = sim.run()
        if self._first(states) is None:
            return None
        return self.scenario(name, "counters", sim, states, [min(births), *self._changes(states, sim.every)])

    def _born_after_start(self, main: dict[str, str], window: Duration) -> Plan:
        """The metric appears (idle series, nothing before) and a window later the
        scope's series are born into a breach: that window counts them at once, longer
        ones only once the metric is as old as they are. A rule that wants more of the
        metric's history before it counts births (twice the window) pages late. It
        runs a horizon past the history the window's readers need, not past the longest
        window (see `_warm_for`)."""
        w = -(-window.ms // self.step.ms)
        timeline = [Phase(HISTORY, w), Phase(self.alert.firing_levels()[0], self._warm_for(window) + self.horizon - w)]
        born = self._born_plan(f"born_{window}_after_a_fresh_start", main, [main], timeline)
        self._require(born is not None, f"a series born {window} after a fresh start never fires")
        assert born is not None
        return born

    def _warm_for(self, window: Duration) -> int:
        """The warm-up of a scenario about one counting window: the alert's, less the
        history of longer windows that no variant reading `window` reads. A burn rate's
        three-day window otherwise puts three idle days (most of promtool's evaluations)
        in front of a five-minute window's scenario; an alert with one window warms up
        as always."""
        longest = max(self.alert.counting_windows(), default=window)
        needed = self.alert.history_for(window)
        return self.warm - (-(-longest.ms // self.step.ms) - -(-needed.ms // self.step.ms))

    def _born_apart(self, main: dict[str, str], timeline: Sequence[Phase], edge: ForEdge | None = None) -> list[Plan]:
        """Each other value a matcher names for a label the alert does not group by,
        born alone beside the main scope's idle history (arbitrum's first failures where
        a global burn rate sums both mainnets): a rule that counts births of some values
        only pages a window late for the others."""
        grouped = set(self.alert.grouping())
        out = []
        for label, values in sorted(self.named.items()):
            if label in grouped:
                continue
            for value in values:
                if value == main.get(label):
                    continue
                name = "born_in_window_" + re.sub(r"[^A-Za-z0-9_]+", "_", value).strip("_")
                name += f"_{edge.name}" if edge is not None else ""
                born = self._born_plan(name, main, [{**main, label: value}], timeline, edge)
                if born is not None:
                    out.append(born)
        return out

    @staticmethod
    def _fresh(samples: list[float | None], at: int, rebase: bool) -> None:
        """Blank a counter before step `at`; `rebase` starts it from zero there."""
        base = (samples[at - 1] or 0.0) if rebase else 0.0
        samples[:] = [None] * at + [v - base if v is not None else None for v in samples[at:]]

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

    def _boundary(self, name: str, main: dict[str, str], timeline: Sequence[Phase]) -> Plan:
        """A scenario checked one evaluation before and at every change of what fires: a
        rule whose threshold, comparison or `for` is off by a step changes one of them."""
        length = sum(phase.steps for phase in timeline)
        sim, states = self.simulate([(main, timeline)], length)
        steps = self._changes(states)
        self._require(len(steps) > 1, f"{name} never changes what fires")
        return self.scenario(name, "boundary", sim, states, steps)

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

        timeline = [Phase(SAFE, warm), Phase(level, horizon)]
        scopes = [(scope, timeline) for scope in (main, *self.alternates(main))]
        # Excluded traffic in the first level's breach only: it proves the matchers,
        # which every level shares, and costs series in every scenario it is in.
        first = level == self.alert.firing_levels()[0]
        sim, states = self.shaped(scopes, length, lambda states: self._first(states, variant) is not None, first)
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


def plan_scenarios(
    alert: AlertModel,
    resolve: Resolve,
    label_sets: dict[str, LabelSet],
    metric_labels: Mapping[str, Sequence[str]] | None = None,
    elsewhere: Mapping[tuple[str, str], Sequence[str]] | None = None,
) -> list[Plan]:
    """Every generated scenario of one alert (the same in every environment it is unchanged in)."""
    return Planner(alert, resolve, label_sets, metric_labels, elsewhere).plan()


def named_values(models: Iterable[AlertModel], resolve: Resolve) -> dict[tuple[str, str], tuple[str, ...]]:
    """Per (metric, label), every value a positive matcher of any alert names."""
    out: dict[tuple[str, str], set[str]] = {}
    for model in models:
        for use in model.selectors():
            for m in resolve(use.selector):
                if not m.negate:
                    out.setdefault((use.selector.metric, m.label), set()).update(m.values)
    return {key: tuple(sorted(values)) for key, values in out.items()}
