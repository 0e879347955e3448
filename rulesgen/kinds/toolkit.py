"""The scenario toolkit kinds build their test series with: phases of a timeline,
per-step increments whose every full window sums exactly, and labels that satisfy
an alert's matchers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rulesgen.ir import Labels
from rulesgen.promql import Duration, Matcher

if TYPE_CHECKING:
    from rulesgen.model.series import SeriesSet

SAFE, BREACH, IDLE = "safe", "breach", "idle"
BURST = "burst"  # a whole window's breach in one step
HISTORY = "history"  # idle counters opening a scenario, as long as the phase says


@dataclass(frozen=True)
class Phase:
    level: str
    steps: int


@dataclass(frozen=True)
class Sampled:
    """A scenario sampled every `step` and evaluated every `every` samples, in the test
    file of its own evaluation interval: what the kind's own step cannot show.
    `births`: (a for edge of exact counters) also proven born, fresh and restarted;
    `gap`: a stretch in which no series is scraped while the counters go on counting."""

    name: str
    timeline: tuple[Phase, ...]
    step: Duration
    every: int
    births: bool = True
    gap: tuple[int, int] = (0, 0)  # (first step, steps) no series is scraped: an outage


@dataclass(frozen=True)
class ForEdge(Sampled):
    """A breach that pins one `for` (or a window) down: the evaluation fine enough to tell the `for`
    from its half and its double where the kind's own evaluation step is not (see
    AlertModel.for_edges)."""


def edge_evaluation(for_: Duration, step: Duration, coarse: Duration, windows: Sequence[Duration]) -> Duration | None:
    """The coarsest evaluation interval, a multiple of `step` that divides every window,
    at which `for_` fires one evaluation later than half of it; None where `coarse`
    already does (or `for_` is under two steps)."""
    for minutes in (60, 30, 15, 10, 5, 2, 1):
        every = Duration(minutes * 60_000)
        fits = every.ms % step.ms == 0 and all(w.ms % every.ms == 0 for w in windows)
        if fits and 2 * every.ms <= for_.ms:
            return None if every.ms >= coarse.ms else every
    return None


def periodic(total: float, n: int) -> list[float]:
    """n per-step increments summing to `total`, whole numbers where `total` is one.

    Any n consecutive steps of the repeated pattern hold each position once, so
    every full window sums to exactly `total` with no floating-point drift.
    """
    if float(total).is_integer():
        q, r = divmod(int(total), n)
        return [float(q + 1)] * r + [float(q)] * (n - r)
    return [total / n] * n


def runs(timeline: Sequence[Phase], length: int) -> list[tuple[str, int]]:
    """(level, steps) covering exactly `length` steps; the last phase extends to the end."""
    out: list[tuple[str, int]] = []
    done = 0
    for n, phase in enumerate(timeline):
        steps = length - done if n == len(timeline) - 1 else min(phase.steps, length - done)
        if steps > 0:
            out.append((phase.level, steps))
            done += steps
    return out


def levels(timeline: Sequence[Phase], length: int) -> list[str]:
    """The level at every step."""
    return [level for level, steps in runs(timeline, length) for _ in range(steps)]


def increments(timeline: Sequence[Phase], length: int, patterns: dict[str, list[float]]) -> list[float]:
    """Per-step increments following the timeline, each level repeating its pattern
    (aligned to the step number, so a window of the pattern's length sums exactly)."""
    out: list[float] = []
    for level, steps in runs(timeline, length):
        # A history is idle counters, however long the kind's own history would be.
        pattern = patterns[IDLE if level == HISTORY and HISTORY not in patterns else level]
        shift = len(out) % len(pattern)
        rotated = pattern[shift:] + pattern[:shift]
        out.extend((rotated * -(-steps // len(pattern)))[:steps])
    return out


def satisfying_labels(matchers: Sequence[Matcher], scope: dict[str, str]) -> dict[str, str]:
    """Labels for a synthesized series that the matchers select, scope values winning."""
    labels = {m.label: ("rulesgen-other" if m.negate else m.values[0]) for m in matchers}
    return {**labels, **scope}


def filter_group(group: dict[Labels, float], op: str, threshold: float) -> dict[Labels, float]:
    """The samples a `> threshold` (or `<`) comparison keeps."""
    if op == ">":
        return {k: v for k, v in group.items() if v > threshold}
    return {k: v for k, v in group.items() if v < threshold}


def put_while(sim: SeriesSet, metric: str, labels: dict[str, str], timeline: Sequence[Phase], level: str) -> None:
    """One series with a sample at every step of `level` and none elsewhere (no series at
    all where the level never occurs): a metric that is there, or not."""
    samples = [1.0 if at == level else None for at in levels(timeline, sim.length)]
    if any(v is not None for v in samples):
        sim.put(metric, labels, samples)
