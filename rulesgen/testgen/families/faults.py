"""Production faults as scenario families: what scrape targets do in production (fail
scrapes, come back, crash-loop, get killed, get replaced, run as replicas) and what
Prometheus itself does (restart), each a registered function that kinds select through
their invariants, like the lint checks.

Each family stands for a real event and states what a correct rule does through it:
a breach still pages, healthy traffic stays silent. The model computes the exact
outcome; a family is kept only where that outcome is the intended one, so the
families never encode a rule's bug as an expectation. Rules counting with `x offset W`
alone, or instant selectors on gauges, fail them (tests/test_faults.py shows which).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import pairwise
from typing import TYPE_CHECKING

from rulesgen.kinds.absence_guard import STEADY_LABEL
from rulesgen.kinds.toolkit import IDLE, SAFE, Phase
from rulesgen.model.series import LOOKBACK, STALE, TARGET_LABELS, Sample
from rulesgen.promql import Duration
from rulesgen.testgen.families.registry import FamilyContext, counters, family, gauges, scoped_absence

if TYPE_CHECKING:
    from rulesgen.testgen.planner import Planner
    from rulesgen.testgen.simulation import Plan, Simulation

REPLICAS = ("replica-a:8080", "replica-b:8080")
NEW_POD = "replica-c:8080"
FAILED_SCRAPE_EVERY = 3  # one scrape in three fails: a flaky exporter under load
GAUGE_FAILED_SCRAPE_EVERY = 4
CRASH_LOOP_LIFE = 2  # steps a crash-looping worker lives before it restarts from 0
RESTARTS = 3  # lives a restarting worker runs past the horizon in which its breach surely pages


# --- helpers ------------------------------------------------------------------------


def _keep(ctx: FamilyContext, name: str, sim: Simulation, fires: bool, extra: list[int] | None = None) -> list[Plan]:
    """The scenario, checked at every change of what fires (and at `extra`), if the model
    says it does what the alert means: pages (`fires`) or stays silent throughout."""
    p = ctx.planner
    states = sim.run()
    first = p.first(states)
    if (first is not None) != fires:
        return []
    return [p.scenario(name, "fault", sim, states, [*p.changes(states), *(extra or [])])]


def _replicate(ctx: FamilyContext, sim: Simulation) -> None:
    """Every series served by two replicas, each half of the traffic."""
    label = ctx.replica_label
    for key, s in sorted(sim.sim.series.items()):
        labels = dict(s.labels)
        half = [None if v is None else v / 2 for v in s.samples]
        del sim.sim.series[key]
        for value in REPLICAS if label == "instance" else (f"{labels.get('job', 'app')}-{r[8]}" for r in REPLICAS):
            sim.sim.put(s.metric, {**labels, label: value}, list(half))


def _on_target(sim: Simulation, label: str, value: str) -> list[list[Sample]]:
    return [s.samples for s in sim.sim.series.values() if dict(s.labels).get(label) == value]


def _fail_scrapes(samples: list[Sample], steps: range | list[int]) -> None:
    for j in steps:
        if 0 <= j < len(samples) and samples[j] is not None:
            samples[j] = STALE


def _kill(samples: list[Sample], at: int) -> None:
    """The target leaves at `at`: one staleness marker, then nothing."""
    samples[at:] = [STALE] + [None] * (len(samples) - at - 1)


# --- counters -----------------------------------------------------------------------


@family("failed_scrapes", counters)
def failed_scrapes(ctx: FamilyContext) -> list[Plan]:
    """A breach while the exporter fails one scrape in three: each failure writes
    staleness markers, which end an instant selector's series (restarting `for`) but
    not a range function's. It pages as it would without the failures."""
    p = ctx.planner
    length = p.warm + p.horizon
    sim = ctx.breach(length)
    for samples in sim.samples():
        _fail_scrapes(samples, range(p.warm, length, FAILED_SCRAPE_EVERY))
    return _keep(ctx, "failed_scrapes", sim, fires=True, extra=_every(p, p.warm, length))


@family("replica_returns", counters)
def replica_returns(ctx: FamilyContext) -> list[Plan]:
    """Healthy traffic served by two replicas with lifetime totals; one fails two scrapes
    for longer than the alert's `for` and comes back. Its series were gone a window ago
    while its sibling kept the metric alive: its lifetime totals are not new events.
    Silent throughout."""
    p = ctx.planner
    # The returning series has no sample a window after it left: the checks run to
    # then, and no further (on a three-day window every hour of a scenario costs).
    at = p.warm + 1
    sim, _, length = _replica_away(ctx, ctx.healthy, at)
    return _keep(ctx, "replica_returns", sim, fires=False, extra=list(range(at, length, p.k)))


@family("replica_returns_during_breach", counters)
def replica_returns_during_breach(ctx: FamilyContext) -> list[Plan]:
    """As `replica_returns`, while a breach pages: the firing alert's value (what the
    page says) stays the window's events, never the returning replica's lifetime totals."""
    p = ctx.planner
    at = p.warm + p.horizon
    sim, away, length = _replica_away(ctx, ctx.breach, at)
    return _keep(ctx, "replica_returns_during_breach", sim, fires=True, extra=_every(p, at + away, length))


@family("replica_returns_at_edge", counters)
def replica_returns_at_edge(ctx: FamilyContext) -> list[Plan]:
    """`replica_returns_during_breach` at each `for` edge (a burn rate's every tier),
    evaluated as finely as the edge: the births a count could wrongly take from the
    returning replica last one short window, which the alert's own evaluation (hourly
    for a burn rate) steps over, so only the fine one sees a short window's count
    decide whether the tier keeps paging."""
    p = ctx.planner
    out = []
    for edge in p.alert.for_edges():
        if not edge.births:
            continue
        history = edge.timeline[0].steps
        at = 2 * history
        away = max(2, history // 2)  # past the short window and the lookback
        length = at + away + history // 4 + 4 * edge.every
        sim = p.new_sim(length, edge.step, edge.every)
        sim.add(ctx.scope, [edge.timeline[0], Phase(edge.timeline[-1].level, length)])
        _replicate(ctx, sim)
        _healthy_past(ctx, sim, 10 * length)
        for samples in _on_target(sim, ctx.replica_label, _second(ctx)):
            _fail_scrapes(samples, range(at, at + away))
        extra = list(range(at + away, length, edge.every))
        out += _keep(ctx, f"replica_returns_at_edge_{edge.name}", sim, fires=True, extra=extra)
    return out


def _healthy_past(ctx: FamilyContext, sim: Simulation, steps: int) -> None:
    """Every counter starts from the totals of `steps` of healthy traffic, series by
    series: a ratio of those totals is a healthy one, so a count that takes them in
    whole reads far below any breach (equal totals on every series would not move a
    ratio of sums of its own series far enough)."""
    past = ctx.planner.new_sim(steps, sim.sim.step, sim.every).add(ctx.scope, [Phase(SAFE, steps)])
    _replicate(ctx, past)
    totals = {key: next((v for v in reversed(s.samples) if v is not None), 0.0) for key, s in past.sim.series.items()}
    for key, s in sim.sim.series.items():
        base = totals.get(key, 0.0)
        s.samples[:] = [None if v is None else v + base for v in s.samples]


def _replica_away(ctx: FamilyContext, traffic: Callable[[int], Simulation], at: int) -> tuple[Simulation, int, int]:
    """Two replicas counting lifetime totals; the second fails its scrapes from `at` for
    longer than any `for`, then returns. The simulation, the steps away, its length."""
    p = ctx.planner
    away = max(2, p.sim_steps(max(p.alert.variant_fors())) + 2)
    length = at + away + ctx.window + 2 * p.k
    sim = traffic(length)
    _replicate(ctx, sim)
    p.lifetime_totals(sim)
    for samples in _on_target(sim, ctx.replica_label, _second(ctx)):
        _fail_scrapes(samples, range(at, at + away))
    return sim, away, length


def _every(p: Planner, start: int, end: int, most: int = 30, every: int = 0) -> list[int]:
    """Every evaluation (of `every` steps, else the alert's) from `start`, at most `most`:
    a count off by its window or its extrapolation shows in what fires and its value."""
    k = every or p.k
    first = start + (-start) % k
    return list(range(first, end, k))[:most]


def _second(ctx: FamilyContext) -> str:
    return REPLICAS[1] if ctx.replica_label == "instance" else f"app-{REPLICAS[1][8]}"


@family("crash_loop", counters)
def crash_loop(ctx: FamilyContext) -> list[Plan]:
    """A breach from a worker that crash-loops: every life restarts its counters from 0
    and counts a few events. Differences over the window see one life; the events of
    every life in the window are what happened, and they page."""
    p = ctx.planner
    length = p.warm + p.horizon
    sim = ctx.breach(length)
    for samples in sim.samples():
        life = 0.0
        out: list[Sample] = []
        for j, value in enumerate(samples):
            before = samples[j - 1] if j else None
            step = 0.0 if value is None or before is None else value - before
            # A new life counts the events of its first step: the worker failed them
            # before its counters were scraped again.
            life = step if j >= p.warm and (j - p.warm) % CRASH_LOOP_LIFE == 0 else life + step
            out.append(None if value is None else (value if j < p.warm else life))
        samples[:] = out
    return _keep(ctx, "crash_loop", sim, fires=True, extra=_every(p, p.warm, length))


@family("restart_before_window", counters)
def restart_before_window(ctx: FamilyContext) -> list[Plan]:
    """A worker failing steadily that restarts every little more than a window (an OOM
    kill, a container restarted in place, a crash loop of longer lives: its counters
    start again from 0, its series stay), scraped half a step after each evaluation. At
    one evaluation per restart the restart falls between the last sample before the
    window (what `x offset W` reads) and the first sample in it, where `resets(x[W])`
    would not look: the difference of two lives is negative, and a rule that takes it
    for the window's events goes silent there, which restarts `for`. It pages no later
    than without the restarts, and no restart interrupts the page; checked at every
    change of what fires, and at and one evaluation before each hidden restart."""
    p = ctx.planner
    # The shortest window that holds two scrapes: increase() needs two to count a window
    # with a reset in it.
    windows = [w for w in p.alert.counting_windows() if p.sim_steps(w) >= 2]
    if not windows:
        return []
    every, w = 2 * p.k, 2 * p.sim_steps(min(windows))  # in half steps
    # Lives longer than the window, so that the window a restart hides from holds no
    # other reset, and whole evaluations long, so that every restart hides from one.
    life = every * -(-(w + 2) // every)
    length = 2 * (p.warm + p.horizon) + RESTARTS * life
    sim = p.new_sim(length, Duration(p.step.ms // 2), every)
    sim.add(ctx.scope, [Phase(IDLE, 2 * p.warm), Phase(p.alert.firing_levels()[0], length)])
    for samples in sim.samples():
        samples[:] = [v if j % 2 else None for j, v in enumerate(_steady(samples, w))]
    p.lifetime_totals(sim)
    steady = p.first(sim.run())
    # Each restart at the scrape just after `t - W` for an evaluation t, from the
    # breach's first whole window on.
    begin = 2 * p.warm + w
    restarts = range(begin + (1 - w - begin) % every, length, life)
    for samples in sim.samples():
        _restart(samples, restarts)
    states = sim.run()
    fire = p.first(states)
    if steady is None or fire is None or fire > steady or not all(states[fire:]):
        return []
    hidden = [j - 1 + w for j in restarts if j - 1 + w < length]
    checks = [*p.changes(states), *hidden, *(t - every for t in hidden)]
    return [p.scenario("restart_before_window", "fault", sim, states, checks)]


def _steady(samples: list[Sample], n: int) -> list[Sample]:
    """The counter whose every step holds the events of the `n` steps up to it: the
    same mix (a ratio keeps its value), at `n` times the rate, spread over every scrape.
    increase() misses the events before a window's first sample, which a breach of
    one event a window may be all of."""
    values = [v or 0.0 for v in samples]
    return [sum(values[max(j - s, 0)] for s in range(n)) for j in range(len(values))]


def _restart(samples: list[Sample], at: Iterable[int]) -> None:
    """The counter starts again from 0 at each scraped step of `at`: its first sample
    there holds the events since the scrape before, the new life's."""
    restarts = set(at)
    base, previous = 0.0, None
    for j, value in enumerate(list(samples)):
        if value is None or value != value:
            continue
        if j in restarts and previous is not None:
            base = previous
        samples[j] = value - base
        previous = value


@family("bursts_out_of_step", counters)
def bursts_out_of_step(ctx: FamilyContext) -> list[Plan]:
    """Healthy traffic settled in one burst a window (a batch job), scraped half a step
    after each evaluation: every window holds exactly one burst, so exactly the
    threshold's events, while `increase()` extrapolates a burst near a window's edge by
    a quarter. Silent, checked at every evaluation."""
    p = ctx.planner
    length = 2 * (p.warm + 2 * ctx.window + p.horizon)
    sim = p.new_sim(length, Duration(p.step.ms // 2), 2 * p.k).add(ctx.scope, [Phase(SAFE, length)])
    n = 2 * ctx.window
    for samples in sim.samples():
        bursts = [samples[j - j % n] for j in range(length)]
        samples[:] = [v if j % 2 else None for j, v in enumerate(bursts)]
    start = 2 * (p.warm + ctx.window)
    return _keep(ctx, "bursts_out_of_step", sim, fires=False, extra=_every(p, start, length, every=2 * p.k))


@family("restarted_while_idle", counters)
def restarted_while_idle(ctx: FamilyContext) -> list[Plan]:
    """The batch traffic of `bursts_out_of_step` (exactly the threshold's events in every
    window, scraped out of step) from a worker that was restarted in place while idle
    (counters back to 0, series kept): the batches resume a window and a lookback after
    the restart. From then on no reset lies between `x offset W`'s sample and now, so
    the windows are counted exactly again, and it stays silent. A reset guard reaching
    further back than it must would hand those windows to increase(), whose
    extrapolation pages on healthy traffic. Where healthy traffic holds no events (a
    threshold of 0), the batches are a breach's: it pages, and the page's value is the
    exact count."""
    p = ctx.planner
    n, lookback = 2 * ctx.window, 2 * p.sim_steps(LOOKBACK)  # in half steps
    resumed = 2 * (p.warm + 2 * ctx.window + lookback)
    resumed += (-resumed) % n  # a batch is due there
    length = resumed + 2 * (n + lookback) + 2 * p.horizon
    sim = _batches(ctx, length, SAFE)
    breach = not any(_grows(samples) for samples in sim.samples())
    if breach:
        sim = _batches(ctx, length, p.alert.firing_levels()[0])
    restart = resumed - n - lookback - 1  # an odd half step: a scrape
    stopped = restart - n - (restart - n) % n  # no batch in the windows that hold the restart
    for samples in sim.samples():
        bursts = [samples[j - j % n] for j in range(length)]
        before, after = bursts[stopped - 1], bursts[resumed - 1]
        out: list[Sample] = []
        for j, v in enumerate(bursts):
            if v is not None and stopped <= j < resumed:
                v = before if j < restart else 0.0
            elif v is not None and j >= resumed:
                v = v - (after or 0.0)
            out.append(v if j % 2 else None)
        samples[:] = out
    return _keep(ctx, "restarted_while_idle", sim, fires=breach, extra=_every(p, resumed, length, every=2 * p.k))


def _batches(ctx: FamilyContext, length: int, level: str) -> Simulation:
    p = ctx.planner
    return p.new_sim(length, Duration(p.step.ms // 2), 2 * p.k).add(ctx.scope, [Phase(level, length)])


def _grows(samples: list[Sample]) -> bool:
    values = [v for v in samples if v is not None and v == v]
    return any(b > a for a, b in pairwise(values))


@family("killed_after_failing", counters)
def killed_after_failing(ctx: FamilyContext) -> list[Plan]:
    """A pod fails a window's worth of events at once and is killed right after: its
    series leave the instant vector, but the events happened and page."""
    p = ctx.planner
    burst = p.alert.burst_level()
    if burst is None:
        return []
    length = p.warm + p.horizon
    sim = p.new_sim(length).add(ctx.scope, [Phase(IDLE, p.warm), Phase(burst, 1), Phase(IDLE, length)])
    # Killed at the first scrape after the burst's sample.
    grown = [j for s in sim.samples() for j in range(1, length) if (s[j] or 0.0) > (s[j - 1] or 0.0)]
    at = min(grown, default=p.warm) + 1
    for samples in sim.samples():
        _kill(samples, at)
    return _keep(ctx, "killed_after_failing", sim, fires=True)


def _deploy(ctx: FamilyContext, sim: Simulation, at: int, from_zero: bool) -> None:
    """At `at` the pod is replaced: its series leave and a new pod's (a new instance)
    carry on the traffic, from 0 or from the lifetime totals the service keeps."""
    label = ctx.replica_label
    for _, s in sorted(sim.sim.series.items()):
        labels = dict(s.labels)
        base = s.samples[at - 1] or 0.0
        new = [None] * at + [None if v is None else (v - base if from_zero else v) for v in s.samples[at:]]
        _kill(s.samples, at)
        value = NEW_POD if label == "instance" else f"{labels.get('job', 'app')}-c"
        sim.sim.put(s.metric, {**labels, label: value}, new)


@family("new_pod_with_lifetime_totals", counters)
def new_pod_with_lifetime_totals(ctx: FamilyContext) -> list[Plan]:
    """A deploy of an exporter that reports lifetime totals (computed from a database):
    the new pod's series start far from zero. Healthy traffic stays silent."""
    p = ctx.planner
    # The new pod's series are births for one window after the deploy, then differences.
    at = p.warm + 1
    length = at + ctx.window + 2 * p.k
    sim = ctx.healthy(length)
    p.lifetime_totals(sim)
    _deploy(ctx, sim, at, from_zero=False)
    return _keep(ctx, "new_pod_with_lifetime_totals", sim, fires=False, extra=list(range(at, length, p.k)))


@family("new_pod_from_zero", counters)
def new_pod_from_zero(ctx: FamilyContext) -> list[Plan]:
    """A breach across a deploy whose new pod counts from 0: the breach goes on paging."""
    p = ctx.planner
    length = p.warm + p.horizon + ctx.window
    sim = ctx.breach(length)
    _deploy(ctx, sim, p.warm + p.horizon // 2, from_zero=True)
    return _keep(ctx, "new_pod_from_zero", sim, fires=True)


@family("prometheus_restart", counters)
def prometheus_restart(ctx: FamilyContext) -> list[Plan]:
    """Prometheus restarts during a breach: no samples at all (and no staleness markers)
    for longer than a window, then the counters go on. It pages again without waiting a
    window for history."""
    p = ctx.planner
    gap = ctx.window + 2
    length = p.warm + gap + p.horizon
    sim = ctx.breach(length)
    for samples in sim.samples():
        samples[p.warm : p.warm + gap] = [None] * gap
    return _keep(ctx, "prometheus_restart", sim, fires=True)


@family("exporter_outage", counters)
def exporter_outage(ctx: FamilyContext) -> list[Plan]:
    """The only exporter fails every scrape for longer than a window (staleness markers,
    `up` 0), then returns into a breach: no blind window after it."""
    p = ctx.planner
    outage = ctx.window + 2
    length = p.warm + outage + p.horizon
    sim = ctx.breach(length)
    for samples in sim.samples():
        _fail_scrapes(samples, range(p.warm, p.warm + outage))
    return _keep(ctx, "exporter_outage", sim, fires=True)


@family("new_metric_family", counters)
def new_metric_family(ctx: FamilyContext) -> list[Plan]:
    """A target that has been up all along starts exporting a metric it never had, with
    its first failures: no series of the metric existed a window ago, and they count."""
    p = ctx.planner
    length = p.warm + p.horizon
    timeline = [Phase(IDLE, p.warm), Phase(p.alert.burst_level() or p.alert.firing_levels()[0], length)]
    sim = p.new_sim(length).add(ctx.scope, timeline)
    targets = set()
    for s in sim.sim.series.values():
        p.blank_until_first_event(s.samples)
        targets.add(tuple((k, v) for k, v in s.labels if k in TARGET_LABELS))
    for target in sorted(targets):
        sim.sim.put("up", dict(target), [1.0] * length)
    return _keep(ctx, "new_metric_family", sim, fires=True)


# --- gauges -------------------------------------------------------------------------


@family("gauge_failed_scrapes", gauges)
def gauge_failed_scrapes(ctx: FamilyContext) -> list[Plan]:
    """A gauge in breach while its exporter fails one scrape in four: the breach lasts,
    and the alert pages `for` after it began, not after the last failed scrape."""
    p = ctx.planner
    length = p.warm + p.horizon
    sim = ctx.breach(length)
    for samples in sim.samples():
        _fail_scrapes(samples, range(p.warm + 1, length, GAUGE_FAILED_SCRAPE_EVERY))
    return _keep(ctx, "gauge_failed_scrapes", sim, fires=True)


@family("gauge_target_gone", gauges)
def gauge_target_gone(ctx: FamilyContext) -> list[Plan]:
    """A gauge in breach whose target is then removed (its series end with a staleness
    marker): the last sample stands for `last_sample_for`, then the alert resolves."""
    p = ctx.planner
    length = p.warm + 2 * p.horizon
    sim = ctx.breach(length)
    gone = p.warm + p.horizon
    for samples in sim.samples():
        _kill(samples, gone)
    return _keep(ctx, "gauge_target_gone", sim, fires=True)


@family("gauge_ha_replicas", gauges)
def gauge_ha_replicas(ctx: FamilyContext) -> list[Plan]:
    """The gauge served by a high-availability pair: both copies report the same value
    (15 pending each is 15 pending, not 30). Healthy stays silent, a breach pages."""
    p = ctx.planner
    labels = p.alert.replica_labels()
    if not labels:
        return []
    length = p.warm + p.horizon
    sim = ctx.breach(length)
    for _, s in sorted(sim.sim.series.items()):
        sim.sim.put(s.metric, {**dict(s.labels), labels[0]: "replica-b:8080"}, list(s.samples))
    return _keep(ctx, "gauge_ha_replicas", sim, fires=True)


# --- absence guards -------------------------------------------------------------------


RENAMED_SUFFIX = "_v2"  # what a client-library upgrade or a refactor renames a metric to
POD_STARTUP = 2  # steps between the old pod's last scrape and the new pod's first


def _with_neighbours(ctx: FamilyContext, length: int) -> Simulation:
    """Healthy traffic in every scope the guard watches, and in the values its label sets
    keep outside (testnets), which must not hide a watched scope that is gone."""
    p = ctx.planner
    sim = ctx.healthy(length)
    metric = next(iter(p.alert.selectors())).selector.metric
    for label in sorted(ctx.scope):
        for value in sorted({v for s in p.label_sets.values() if s.label == label for v in s.others}):
            sim.sim.put(metric, {**ctx.scope, label: value}, [1.0] * length)
    return sim


def _guard_length(ctx: FamilyContext) -> tuple[int, int]:
    """When the fault happens, and how long the scenario runs past it."""
    p = ctx.planner
    return p.warm + p.horizon, 2 * p.horizon


@family("scope_gone_while_others_remain", scoped_absence)
def scope_gone_while_others_remain(ctx: FamilyContext) -> list[Plan]:
    """The worker of one watched scope (a mainnet) dies: its series end with a staleness
    marker, while the other mainnets and the testnets go on. An absence of the metric
    as a whole sees the others and stays silent; the guard pages for that scope only."""
    at, length = _guard_length(ctx)
    sim = _with_neighbours(ctx, at + length)
    for s in sim.sim.series.values():
        labels = dict(s.labels)
        if STEADY_LABEL not in labels and ctx.scope.items() <= labels.items():
            _kill(s.samples, at)
    return _keep(ctx, "scope_gone_while_others_remain", sim, fires=True)


@family("metric_renamed", scoped_absence)
def metric_renamed(ctx: FamilyContext) -> list[Plan]:
    """A deploy renames the metric: every series of the old name ends, the same traffic
    goes on under the new one. Every watched scope pages."""
    at, length = _guard_length(ctx)
    sim = _with_neighbours(ctx, at + length)
    for _, s in sorted(sim.sim.series.items()):
        sim.sim.put(s.metric + RENAMED_SUFFIX, dict(s.labels), [None] * at + s.samples[at:])
        _kill(s.samples, at)
    return _keep(ctx, "metric_renamed", sim, fires=True)


@family("absence_failed_scrapes", scoped_absence)
def absence_failed_scrapes(ctx: FamilyContext) -> list[Plan]:
    """Every target fails one scrape in three: staleness markers, which end an instant
    selector's series but not a range's. Silent throughout."""
    at, length = _guard_length(ctx)
    sim = _with_neighbours(ctx, at + length)
    for samples in sim.samples():
        _fail_scrapes(samples, range(at, at + length, FAILED_SCRAPE_EVERY))
    return _keep(ctx, "absence_failed_scrapes", sim, fires=False, extra=_every(ctx.planner, at, at + length))


@family("absence_pod_replaced", scoped_absence)
def absence_pod_replaced(ctx: FamilyContext) -> list[Plan]:
    """A deploy replaces the pod of every scope: the old one's series end with a staleness
    marker and the new pod (a new instance) is first scraped a little later. Silent."""
    at, length = _guard_length(ctx)
    sim = _with_neighbours(ctx, at + length)
    for _, s in sorted(sim.sim.series.items()):
        back = at + POD_STARTUP
        sim.sim.put(s.metric, {**dict(s.labels), "instance": NEW_POD}, [None] * back + s.samples[back:])
        _kill(s.samples, at)
    return _keep(ctx, "absence_pod_replaced", sim, fires=False, extra=_every(ctx.planner, at, at + length))
