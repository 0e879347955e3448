"""The core scenario families: what every alert is proven on (healthy traffic, a
breach per firing level, no data, a breach outside its matchers), what its kind adds
(extra firing, boundary, sampled and silent scenarios, the edges of its `for`), and
what exact counting means for kinds that declare it (births, fresh starts, resets,
samples out of step). Each is a registered function over the family context, knowing
no kind: the kind states its intent and invariants, the planner simulates them.

Registered in the order their scenarios are generated, before the production faults.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from rulesgen.ir import Labels
from rulesgen.kinds.toolkit import BREACH, HISTORY, IDLE, SAFE, ForEdge, Phase, Sampled
from rulesgen.model.alertstate import Firing
from rulesgen.promql import Duration
from rulesgen.testgen.families.registry import FamilyContext, always, counters, family
from rulesgen.testgen.simulation import Simulation

if TYPE_CHECKING:
    from rulesgen.testgen.planner import Planner
    from rulesgen.testgen.simulation import Plan

# A label that tells apart a series the counter scenarios add (an idle series that has
# existed all along) from the scope's own series; alerts sum it away.
WITNESS_LABEL = "rulesgen_series"
# Evaluations a scenario that must stay silent checks one by one, at most (out of step,
# fresh start): a wrong rule fires at some of them only.
EVALUATIONS_CHECKED = 30

States = list[list[Firing]]


def _slug(value: str) -> str:
    """A label value as a part of a scenario's name."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", value).strip("_")


# --- every alert ----------------------------------------------------------------------


@family("healthy", always)
def healthy(ctx: FamilyContext) -> list[Plan]:
    p = ctx.planner
    length = p.warm + p.horizon
    sim, states = p.shaped([(ctx.scope, [Phase(SAFE, length)])], length, lambda states: not any(states))
    p.require(not any(states), "healthy traffic fires")
    return [p.scenario("healthy", "healthy", sim, states, [p.warm, (p.warm + length) // 2, length - 1])]


@family("breach", always)
def breach(ctx: FamilyContext) -> list[Plan]:
    """A breach at each firing level; at the first, its recovery, the longest breach
    that stays pending and a breach in one group only."""
    p = ctx.planner
    main, second = ctx.scope, ctx.second_scope
    return [plan for level in p.alert.firing_levels() for plan in _breach(p, level, main, second)]


@family("no_data", always)
def no_data(ctx: FamilyContext) -> list[Plan]:
    p = ctx.planner
    length = p.warm + p.horizon
    sim, states = p.simulate([(ctx.scope, [Phase(IDLE, length)])], length)
    return [_invariant(p, "no_data", "no_data", sim, states, p.alert.invariants.no_data_fires, "no data")]


@family("outside_matchers", always)
def outside_matchers(ctx: FamilyContext) -> list[Plan]:
    """A breach in each scope outside the alert's common matchers: it does what the
    kind declares (an absence guard may fire, a threshold must not)."""
    p = ctx.planner
    warm, horizon = p.warm, p.horizon
    fires = p.alert.invariants.outside_matchers_fire
    what = "a breach outside the alert's matchers"
    out = []
    for label, value in ctx.outside:
        timeline = [Phase(SAFE, warm), Phase(p.alert.firing_levels()[0], horizon)]
        sim, states = p.simulate([(ctx.scope, timeline)], warm + horizon, {label: value})
        name = f"outside_{label}"
        # A label proven on several values (a `!~` matcher) names each scenario by its value.
        if sum(other == label for other, _ in ctx.outside) > 1:
            name += "_" + _slug(value)
        out.append(_invariant(p, name, "label_scope", sim, states, fires, what))
    return out


@family("exact_counters", counters)
def exact_counters(ctx: FamilyContext) -> list[Plan]:
    """What exact counting means, for kinds that declare it: a series born inside the
    window counts its first value; lifetime totals seen by a Prometheus that has just
    started do not; a reset with no new events is silent; samples out of step with
    evaluation are counted exactly (no extrapolation past the threshold)."""
    p, main = ctx.planner, ctx.scope
    return [
        *_born_scenarios(p, main),
        _fresh_start(p, main),
        *_fresh_breaches(p, main),
        _reset(p, main),
        *_reset_by_one(p, main),
        _out_of_step(p, main),
    ]


@family("extra_firing", always)
def extra_firing(ctx: FamilyContext) -> list[Plan]:
    p = ctx.planner
    return [
        _fires(p, name, "breach", sim, states, f"{name} never fires")
        for name, sim, states in _simulated(ctx, p.alert.extra_firing_scenarios(p.warm, p.horizon))
    ]


@family("boundary", always)
def boundary(ctx: FamilyContext) -> list[Plan]:
    """Scenarios checked one evaluation before and at every change of what fires: a
    rule whose threshold, comparison or `for` is off by a step changes one of them."""
    p = ctx.planner
    out = []
    for name, timeline in p.alert.boundary_scenarios(p.warm, p.k):
        length = sum(phase.steps for phase in timeline)
        sim, states = p.simulate([(ctx.scope, timeline)], length)
        steps = p.changes(states)
        p.require(len(steps) > 1, f"{name} never changes what fires")
        out.append(p.scenario(name, "boundary", sim, states, steps))
    return out


@family("for_edges", always)
def for_edges(ctx: FamilyContext) -> list[Plan]:
    """Each edge of a `for` sampled finely; with exact counters, also born into it, seen
    from a fresh start and restarted, each as finely."""
    p, main = ctx.planner, ctx.scope
    out = []
    for edge in p.alert.for_edges():
        out.append(_sampled(p, main, edge, "for"))
        if p.alert.invariants.exact_counters and edge.births:
            # Born into the breach and evaluated as finely: a rule that misses the
            # births of some value in a short window pages that window late.
            born = _born_plan(p, f"born_in_window_{edge.name}", main, [main], edge.timeline, edge)
            out.extend([born] if born is not None else [])
            out.extend(_born_apart(p, main, edge.timeline, edge))
            out.append(_fresh_edge(p, main, edge))
            out.extend(_restart_edge(p, main, edge))
    return out


@family("sampled_firing", always)
def sampled_firing(ctx: FamilyContext) -> list[Plan]:
    p = ctx.planner
    return [_sampled(p, ctx.scope, sampled, "breach") for sampled in p.alert.sampled_firing_scenarios()]


@family("extra_silent", always)
def extra_silent(ctx: FamilyContext) -> list[Plan]:
    p = ctx.planner
    out = []
    for name, sim, states in _simulated(ctx, p.alert.extra_silent_scenarios(p.warm, p.horizon)):
        p.require(not any(states), f"{name} fires")
        out.append(p.scenario(name, "silent", sim, states, [p.warm, p.warm + p.horizon - 1]))
    return out


def _simulated(
    ctx: FamilyContext, scenarios: Iterable[tuple[str, Sequence[Phase]]]
) -> Iterator[tuple[str, Simulation, list[list[Firing]]]]:
    """A kind's own named timelines of the main scope, each simulated over warm-up and horizon."""
    p = ctx.planner
    for name, timeline in scenarios:
        yield (name, *p.simulate([(ctx.scope, timeline)], p.warm + p.horizon))


# --- outcomes -------------------------------------------------------------------------


def _invariant(p: Planner, name: str, purpose: str, sim: Simulation, states: States, fires: bool, what: str) -> Plan:
    """A scenario whose outcome the kind declares: it fires (checked just before and
    when it does) or stays silent throughout."""
    first = p.first(states)
    if not fires:
        p.require(first is None, f"{what} fires")
        return p.scenario(name, purpose, sim, states, [p.warm, len(states) - 1])
    p.require(first is not None, f"{what} never fires, though the kind says it does")
    assert first is not None
    return p.scenario(name, purpose, sim, states, [first - p.k, first, len(states) - 1])


def _fires(p: Planner, name: str, purpose: str, sim: Simulation, states: States, what: str) -> Plan:
    """A scenario that must fire (`what` says otherwise): checked one evaluation before
    it does, when it does and one evaluation after."""
    fire = p.first(states)
    p.require(fire is not None, what)
    assert fire is not None
    return p.scenario(name, purpose, sim, states, [fire - sim.every, fire, fire + sim.every])


def _sampled(p: Planner, main: dict[str, str], sampled: Sampled, purpose: str) -> Plan:
    """A breach sampled every `sampled.step` and evaluated every `sampled.every`
    samples, checked one evaluation before and at every change of what fires: half
    the `for` of a for edge or twice it, or a window halved or doubled, moves one."""
    length = sum(phase.steps for phase in sampled.timeline)
    sim = p.new_sim(length, sampled.step, sampled.every)
    sim.add(main, sampled.timeline)
    start, steps = sampled.gap
    for samples in sim.samples():
        samples[start : start + steps] = [None] * len(samples[start : start + steps])
    states = sim.run()
    p.require(p.first(states) is not None, f"{sampled.name} never fires")
    # A stalled counter beside it (not through an outage, which it would bridge),
    # where it changes nothing: a rule that takes no events in a window for a
    # reset counts its whole value there.
    stalls = p.shape().stalled if p.alert.invariants.exact_counters and not steps else ()
    for stall in stalls:
        trial = sim.copy().add_stalled(*stall)
        if trial.run() == states:
            sim = trial
    return p.scenario(sampled.name, purpose, sim, states, p.changes(states, sampled.every))


# --- breaches -------------------------------------------------------------------------


def _breach(p: Planner, level: str, main: dict[str, str], second: dict[str, str] | None) -> list[Plan]:
    warm, horizon = p.warm, p.horizon
    length = warm + horizon
    variant = p.alert.firing_levels().index(level) if len(p.alert.variant_fors()) > 1 else 0
    suffix = "" if level == BREACH else f"_{level.removeprefix('breach_')}"
    out = []

    timeline = [Phase(SAFE, warm), Phase(level, horizon)]
    scopes = [(scope, timeline) for scope in (main, *p.alternates(main))]
    # Excluded traffic in the first level's breach only: it proves the matchers,
    # which every level shares, and costs series in every scenario it is in.
    first = level == p.alert.firing_levels()[0]
    sim, states = p.shaped(scopes, length, lambda states: p.first(states, variant) is not None, first)
    fire = p.first(states, variant)
    p.require(fire is not None, f"{level} never fires within {horizon} steps")
    assert fire is not None
    out.append(p.scenario(f"breach{suffix}", "breach", sim, states, [fire - p.k, fire, fire + p.k]))
    if not first:
        # Further levels (burn-rate tiers) prove their own threshold and `for`;
        # recovery and short breaches are the same machinery, shown once.
        return out
    out.append(_recovery(p, level, variant, main, suffix, fire))
    if p.alert.variant_fors()[variant].ms > 0:
        out.extend(_short_breach(p, level, variant, main, suffix, longest=fire - p.warm))
    if second is not None:
        sim, states = p.simulate(
            [(main, [Phase(SAFE, warm), Phase(level, horizon)]), (second, [Phase(SAFE, length)])], length
        )
        fire = p.first(states, variant)
        assert fire is not None
        out.append(p.scenario("one_group_only", "label_scope", sim, states, [fire, length - 1]))
    return out


def _recovery(p: Planner, level: str, variant: int, main: dict[str, str], suffix: str, fire: int) -> Plan:
    """Back to healthy two steps after it fires: it resolves (after keep_firing_for)."""
    warm, horizon = p.warm, p.horizon
    back = fire + 2 * p.k
    total = back + horizon
    sim, states = p.simulate([(main, [Phase(SAFE, warm), Phase(level, back - warm), Phase(SAFE, horizon)])], total)
    resolved = next((i for i in range(back, total) if not any(f.variant == variant for f in states[i])), None)
    p.require(resolved is not None, f"{level} never resolves")
    assert resolved is not None
    return p.scenario(f"recovery{suffix}", "recovery", sim, states, [fire, resolved - p.k, resolved])


def _short_breach(p: Planner, level: str, variant: int, main: dict[str, str], suffix: str, longest: int) -> list[Plan]:
    """The longest breach that stays pending: it must never fire."""
    warm, horizon = p.warm, p.horizon

    def run(k: int) -> tuple[Simulation, States]:
        timeline = [Phase(SAFE, warm), Phase(level, k), Phase(SAFE, horizon)]
        return p.simulate([(main, timeline)], warm + k + horizon)

    # A longer breach fires whenever a shorter one does, and one as long as it took
    # the sustained breach to fire surely does: binary search the longest silent one.
    lo, hi, best = 1, min(longest, horizon), None
    while lo <= hi:
        k = (lo + hi) // 2
        sim, states = run(k)
        if p.first(states, variant) is None:
            best, lo = (sim, states, k), k + 1
        else:
            hi = k - 1
    if best is None:
        return []
    sim, states, k = best
    checks = [warm + k, warm + k + p.k, warm + k + horizon - 1]
    return [p.scenario(f"short_breach{suffix}", "short_breach", sim, states, checks)]


# --- counters counted exactly: births -------------------------------------------------


def _born_scenarios(p: Planner, main: dict[str, str]) -> list[Plan]:
    """Born: the scope's series appear with their first events (nothing before, as a
    client library creates a labelled counter on its first increment) while an idle
    series of the same metric has existed all along (the metric has history). A kind
    with a burst level is born with a whole window's breach in one sample (a first
    failure on a new series), unless `for` outlasts what a burst keeps in the window;
    otherwise the series is born into a sustained breach."""
    warm, horizon = p.warm, p.horizon
    burst = p.alert.burst_level()
    timelines = [[Phase(IDLE, warm), Phase(p.alert.firing_levels()[0], horizon)]]
    if burst:
        timelines.insert(0, [Phase(IDLE, warm), Phase(burst, 1), Phase(IDLE, horizon)])
    out = []
    # Every value a matcher names is born (arbitrum beside polygon): a rule that
    # counted births of one value only pages late, or never, for the others.
    for timeline in timelines:
        born = _born_plan(p, "born_in_window", main, [main, *p.alternates(main)], timeline)
        if born is not None:
            out.append(born)
            break
    p.require(bool(out), "a series born with a breach never fires")
    # The values born apart in the timeline the scope was born in.
    out.extend(_born_apart(p, main, timeline))
    out.extend(_born_after_start(p, main, window) for window in p.alert.counting_windows())
    return out


def _born_plan(
    p: Planner,
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
        sim = p.new_sim(min(p.warm + p.horizon, sum(phase.steps for phase in timeline)))
    else:
        sim = p.new_sim(sum(phase.steps for phase in timeline), edge.step, edge.every)
    length = sim.sim.length
    for scope in scopes:
        sim.add(scope, timeline)
    births = [p.blank_until_first_event(samples) for samples in sim.samples()]
    sim.add(main, [Phase(IDLE, length)], relabel={WITNESS_LABEL: "existing"})
    states = sim.run()
    if p.first(states) is None:
        return None
    return p.scenario(name, "counters", sim, states, [min(births), *p.changes(states, sim.every)])


def _born_after_start(p: Planner, main: dict[str, str], window: Duration) -> Plan:
    """The metric appears (idle series, nothing before) and a window later the
    scope's series are born into a breach: that window counts them at once, longer
    ones only once the metric is as old as they are. A rule that wants more of the
    metric's history before it counts births (twice the window) pages late. It
    runs a horizon past the history the window's readers need, not past the longest
    window (see `_warm_for`)."""
    w = p.sim_steps(window)
    timeline = [Phase(HISTORY, w), Phase(p.alert.firing_levels()[0], _warm_for(p, window) + p.horizon - w)]
    born = _born_plan(p, f"born_{window}_after_a_fresh_start", main, [main], timeline)
    p.require(born is not None, f"a series born {window} after a fresh start never fires")
    assert born is not None
    return born


def _born_apart(p: Planner, main: dict[str, str], timeline: Sequence[Phase], edge: ForEdge | None = None) -> list[Plan]:
    """Each other value a matcher names for a label the alert does not group by,
    born alone beside the main scope's idle history (arbitrum's first failures where
    a global burn rate sums both mainnets): a rule that counts births of some values
    only pages a window late for the others."""
    grouped = set(p.alert.grouping())
    out = []
    for label, values in sorted(p.named.items()):
        if label in grouped:
            continue
        for value in values:
            if value == main.get(label):
                continue
            name = "born_in_window_" + _slug(value) + (f"_{edge.name}" if edge is not None else "")
            born = _born_plan(p, name, main, [{**main, label: value}], timeline, edge)
            if born is not None:
                out.append(born)
    return out


def _warm_for(p: Planner, window: Duration) -> int:
    """The warm-up of a scenario about one counting window: the alert's, less the
    history of longer windows that no variant reading `window` reads. A burn rate's
    three-day window otherwise puts three idle days (most of promtool's evaluations)
    in front of a five-minute window's scenario; an alert with one window warms up
    as always."""
    longest = max(p.alert.counting_windows(), default=window)
    needed = p.alert.history_for(window)
    return p.warm - (p.sim_steps(longest) - p.sim_steps(needed))


# --- counters counted exactly: fresh starts -------------------------------------------


def _fresh_start(p: Planner, main: dict[str, str]) -> Plan:
    """Prometheus starts while the exporters hold lifetime totals past the threshold,
    and no new event comes: nothing of the metric existed a window earlier, so the
    totals are not events and nothing pages. No traffic after the start: until the
    metric has a window of history a fresh Prometheus counts with increase(),
    extrapolated, and reads traffic just at the threshold (3 events a 5m window) as
    3.5. The empty history keeps a kind that opens every scenario with idle counters
    (a burn rate) from starting the totals at 0. Checked at every evaluation for a
    while: a rule counting the totals pages `for` after the start, and only until its
    windows reach back past it."""
    horizon, length = p.horizon, p.warm + p.horizon
    sim = p.new_sim(horizon + length)
    sim.add(main, [Phase(HISTORY, 0), Phase(p.alert.firing_levels()[0], horizon), Phase(IDLE, length)])
    for samples in sim.samples():
        _fresh(samples, horizon, rebase=False)
    states = sim.run()
    p.require(p.first(states) is None, "lifetime totals at a fresh start fire")
    # The window that reaches furthest back, then the longest `for`, past the start.
    longest = max(p.alert.counting_windows(), default=Duration(0))
    counting = p.sim_steps(longest) + p.sim_steps(max(p.alert.variant_fors()))
    until = min(horizon + length, horizon + counting + p.k + 1, horizon + p.k * EVALUATIONS_CHECKED)
    every = range(horizon, until, p.k)
    return p.scenario("fresh_start", "counters", sim, states, [*every, horizon + length - 1])


def _fresh_breaches(p: Planner, main: dict[str, str]) -> list[Plan]:
    """Fresh start during a breach: the events keep coming, but nothing counts until
    the metric has a window of history, so it pages `for` after that and not one
    evaluation sooner. A rule counting lifetime totals, or looking back less than a
    window for the metric's history, pages early. At every level (each burn-rate tier
    alone), checked at every change of what fires: a rule that counts lifetime totals
    in one window only, or looks back half a window for the metric's history, pages
    that level early.

    Then one metric fresh while the others have history (a ratio of two counters): it
    first counts a window after it appears, whether it appears with lifetime totals
    or from zero. Counting it sooner moves the ratio while the other metric already
    counts, which a fresh start of both would hide."""
    out = [_fresh_breach(p, main, None, rebase=False, level=level) for level in p.alert.firing_levels()]
    metrics = sorted({use.selector.metric for use in p.alert.selectors()})
    for metric in metrics if len(metrics) > 1 else ():
        out.append(_fresh_breach(p, main, metric, rebase=False))
        out.append(_fresh_breach(p, main, metric, rebase=True))
    return out


def _fresh_breach(p: Planner, main: dict[str, str], metric: str | None, rebase: bool, level: str = "") -> Plan:
    """A breach (at `level`, else the first) whose series of `metric` (of every
    metric: None) appear only after a horizon of events Prometheus did not see, with
    those lifetime totals or, with `rebase`, from zero; it fires `for` after their
    window has filled, and is checked at every change of what fires."""
    horizon, length = p.horizon, p.warm + p.horizon
    first = p.alert.firing_levels()[0]
    sim = p.new_sim(2 * horizon + length)
    sim.add(main, [Phase(level or first, 2 * horizon + length)])
    for (name, _), series in sim.sim.series.items():
        if metric in (None, name):
            _fresh(series.samples, horizon, rebase)
    if metric is None:
        suffix = "" if level in ("", first) else "_" + level.removeprefix("breach_")
        name, what = f"fresh_breach{suffix}", "a breach seen from a fresh start never fires"
    else:
        name = f"fresh_{metric}_{'from_zero' if rebase else 'lifetime'}"
        what = f"a breach with {metric} fresh never fires"
    states = sim.run()
    p.require(p.first(states) is not None, what)
    return p.scenario(name, "counters", sim, states, p.changes(states))


def _fresh_edge(p: Planner, main: dict[str, str], edge: ForEdge) -> Plan:
    """The edge's breach seen from a fresh start, as finely: the series appear with
    lifetime totals where the edge's history ends, and page `for` after that history
    again (a window of the metric's own). A rule that counts lifetime totals in a
    window sooner pages early, by less than an hour on the short tiers."""
    history = edge.timeline[0].steps
    length = 2 * history + sum(phase.steps for phase in edge.timeline[1:])
    sim = p.new_sim(length, edge.step, edge.every)
    sim.add(main, [Phase(HISTORY, 0), Phase(edge.timeline[-1].level, length)])
    for samples in sim.samples():
        _fresh(samples, history, rebase=False)
    states = sim.run()
    p.require(p.first(states) is not None, f"{edge.name} from a fresh start never fires")
    return p.scenario(f"fresh_breach_{edge.name}", "counters", sim, states, p.changes(states, edge.every))


def _fresh(samples: list[float | None], at: int, rebase: bool) -> None:
    """Blank a counter before step `at`; `rebase` starts it from zero there."""
    base = (samples[at - 1] or 0.0) if rebase else 0.0
    samples[:] = [None] * at + [v - base if v is not None else None for v in samples[at:]]


# --- counters counted exactly: resets -------------------------------------------------


def _reset(p: Planner, main: dict[str, str]) -> Plan:
    """Every counter drops to 0 and stays there for a while, then healthy traffic
    resumes: only the events since the reset count."""
    warm, horizon = p.warm, p.horizon
    length = warm + horizon
    reset = warm + 1
    sim = p.new_sim(length)
    sim.add(main, [Phase(SAFE, warm), Phase(IDLE, horizon // 2), Phase(SAFE, horizon)])
    for samples in sim.samples():
        base = samples[reset - 1] or 0.0
        samples[reset:] = [v - base if v is not None else None for v in samples[reset:]]
    states = sim.run()
    p.require(p.first(states) is None, "a counter reset fires")
    return p.scenario("reset", "counters", sim, states, [reset, warm + horizon // 2, length - 1])


def _reset_by_one(p: Planner, main: dict[str, str]) -> list[Plan]:
    """A restart during a breach whose first scrape holds one event fewer than the
    counter did a window earlier: `x - x offset w` is -1, a reset, so the events
    since the restart count (the whole value). A rule that takes -1 for the
    increase loses the series' part of the breach for a window. Per window and per
    metric read, the series restarted is the one adding most to the breach."""
    horizon = p.horizon
    windows = p.alert.counting_windows()
    out = []
    for window in windows:
        w = p.sim_steps(window)
        # Idle history only as long as the variants reading the window need (see
        # `_warm_for`); the restart and its checks need no more.
        warm = _warm_for(p, window)
        length = warm + horizon
        timeline = [Phase(p.alert.firing_levels()[0], length + w)]
        if warm < p.warm:
            history = p.sim_steps(p.alert.history_for(window))
            timeline = [Phase(HISTORY, history), Phase(timeline[0].level, length + w - history)]
        at = max(warm + horizon // 2, w + 1)
        at += -at % p.k
        sim, _ = p.shaped([(main, timeline)], length + w, lambda states: p.first(states) is not None, noisy=False)
        name = "reset_by_one" + (f"_{window}" if len(windows) > 1 else "")
        # Mid-window too: the windows shorter than `w` have seen the restart go
        # by, so this window alone decides there.
        checks = [at - p.k, at, at + p.k, at + w // 2, at + w]
        out.extend(_restarts(p, sim, at, w, name, checks))
    return out


def _restart_edge(p: Planner, main: dict[str, str], edge: ForEdge) -> list[Plan]:
    """The edge's breach for twice its history, then the fastest-growing series
    restarts one below its value a history earlier (see `_reset_by_one`), evaluated
    as finely: the window as long as the history sees -1 all through, and only
    that window still holds the restart once the shorter ones have moved past it."""
    history = edge.timeline[0].steps
    at = 2 * history
    at += -at % edge.every
    length = at + history + 4 * edge.every
    sim = p.new_sim(length, edge.step, edge.every)
    sim.add(main, [edge.timeline[0], Phase(edge.timeline[-1].level, length)])
    return _restarts(p, sim, at, history, f"reset_by_one_{edge.name}", [at + history // 2], edge.every)


def _restarts(
    p: Planner, sim: Simulation, at: int, w: int, name: str, checks: Sequence[int], every: int = 0
) -> list[Plan]:
    """Per metric, `sim` with lifetime totals whose fastest-growing series restarts at
    `at` one below its value `w` steps earlier, checked at `checks` (and, with
    `every`, at every change of what fires)."""
    p.lifetime_totals(sim)
    metrics = sorted({metric for metric, _ in sim.sim.series})
    out = []
    for metric in metrics:
        restarted = _restart_by_one(sim, metric, at, w)
        if restarted is not None:
            states = restarted.run()
            full = name + (f"_{metric}" if len(metrics) > 1 else "")
            steps = [*checks, *(p.changes(states, every) if every else ())]
            out.append(p.scenario(full, "counters", restarted, states, steps))
    return out


def _restart_by_one(sim: Simulation, metric: str, at: int, w: int) -> Simulation | None:
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


# --- counters counted exactly: samples out of step ------------------------------------


def _out_of_step(p: Planner, main: dict[str, str]) -> Plan:
    """Healthy traffic scraped half a step after each evaluation, silent once
    Prometheus has a window of it (before that, a Prometheus that has just started
    counts with increase(), extrapolation and all)."""
    length = p.warm + p.horizon
    window = 2 * max((p.sim_steps(w) for w in p.alert.counting_windows()), default=0)
    start = window + -window % (2 * p.k)
    sim = p.new_sim(start + 2 * length, Duration(p.step.ms // 2), 2 * p.k)
    sim.add(main, [Phase(SAFE, start + 2 * length)])
    for samples in sim.samples():
        samples[:] = [v if i % 2 else None for i, v in enumerate(samples)]
    states = sim.run()
    # The first sample is half a step in: the first evaluation with a sample a
    # window before it is the first a window after that sample, one evaluation past
    # `start` when the window is a whole number of evaluations. At `start` the
    # window still extrapolates (6 events a 5m window read as 6.25).
    exact = window + 1
    exact += -exact % (2 * p.k)
    p.require(p.first(states, start=exact) is None, "healthy traffic sampled out of step with evaluation fires")
    # Checked at every evaluation for a while: increase()'s extrapolation overshoots
    # at some phases of the traffic only.
    end = start + 2 * length
    every = range(start + 2 * p.warm, min(end, start + 2 * p.warm + 2 * p.k * EVALUATIONS_CHECKED), 2 * p.k)
    return p.scenario("out_of_step", "counters", sim, states, [*every, end - 1])
