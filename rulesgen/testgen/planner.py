"""Scenario plans that prove each alert: the series that make it fire and stay silent,
and which alerts fire at chosen evaluation times.

The kind synthesizes series and states its intent (`evaluate`) and its invariants
(what no data means); the scenario families (`rulesgen.testgen.families`) its
invariants select build the scenarios from what this module offers them: the scopes,
the shapes that make a wrong rule visible, and the alert state machine run over the
series, turned into checks, knowing no kind. Promtool then runs the real generated
rules on the same series. Plans do not depend on the environment: `testgen` expands
them with each environment's labels and annotations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import compress, islice

from rulesgen.ir import Labels
from rulesgen.kinds.base import AlertModel, Resolve
from rulesgen.kinds.toolkit import Phase
from rulesgen.model.alertstate import Firing
from rulesgen.model.series import ScenarioError
from rulesgen.promql import Duration
from rulesgen.spec.models import LabelSet
from rulesgen.testgen.families import FamilyContext, selected
from rulesgen.testgen.samples import input_series
from rulesgen.testgen.simulation import Plan, PlannedCheck, Shape, Simulation, Spread

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

    # --- what the scenario families read (rulesgen.testgen.families) ------------------

    def plan(self) -> list[Plan]:
        """Every family the alert's kind selects, in registration order."""
        ctx = FamilyContext.of(self)
        return [plan for f in selected(self.alert.invariants) for plan in f.build(ctx)]

    def new_sim(self, length: int, step: Duration | None = None, every: int | None = None) -> Simulation:
        """An empty simulation of `length` steps, at the alert's own step and evaluation
        unless told otherwise."""
        return Simulation(self.alert, self.resolve, step or self.step, length, every or self.k)

    def sim_steps(self, duration: Duration) -> int:
        return -(-duration.ms // self.step.ms)

    def first(self, states: list[list[Firing]], variant: int | None = None, start: int = 0) -> int | None:
        """The first step from `start` at which anything (of `variant`) fires."""
        for i in compress(range(start, len(states)), states[start:]):  # steps where anything fires
            if variant is None or any(f.variant == variant for f in states[i]):
                return i
        return None

    def changes(self, states: list[list[Firing]], every: int = 0) -> list[int]:
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

    @staticmethod
    def lifetime_totals(sim: Simulation) -> None:
        """Counters that Prometheus first saw far from zero, as real ones are: ten times
        the largest count of the scenario added to every sample. No window's events
        change, but a value counted whole (after a reset) is then a lifetime total that
        swamps a window's events, as it does in production."""
        top = max((v for samples in sim.samples() for v in samples if v is not None), default=0.0)
        base = float(10 ** len(str(int(top))))
        for samples in sim.samples():
            samples[:] = [None if v is None else v + base for v in samples]

    @staticmethod
    def blank_until_first_event(samples: list[float | None]) -> int:
        """Blank a counter until its first event: it is born with that count. Its birth step."""
        at = next((i for i, v in enumerate(samples) if v), len(samples))
        samples[:at] = [None] * at
        return at

    def require(self, ok: bool, what: str) -> None:
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
