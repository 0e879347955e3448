"""A small model of PromQL evaluation, used to derive what generated tests expect.

Kinds synthesize input series for a scenario; this module evaluates the spec's
intent on them (independently of the generated PromQL) so that promtool, running
the real rules, is checked against an expectation it did not produce.

Counters are read as rulesgen's rules read them (`SeriesSet.increase`): exact event
counts from two instant lookups a window apart where the window holds no reset, a
series born on a scrape target that was up a window ago counted whole, and
`increase()` (Prometheus 2.42's extrapolation, to the double) everywhere else.

The world has scrape targets: every series of a planned scenario carries `job` and
`instance`, and each target has an `up` series (given, or derived: 1 wherever one of
its series has a sample). A failed scrape is a staleness marker (`STALE`) on each of
the target's series: instant lookups see nothing there, range functions skip it.
Instant lookups follow Prometheus 2.x: the latest sample at most 5m old
(`--query.lookback-delta`), both ends included. Range selectors include both ends
(2.42); histogram bucket rates assume a sample at every step. Alerts go pending on the first true evaluation and
fire once `for` has elapsed, and `keep_firing_for` counts from the first false
evaluation.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import accumulate, compress, islice, repeat
from operator import and_, eq, is_not, ne

from rulesgen.ir import Labels
from rulesgen.promql import Duration, Matcher

Sample = float | None
# Prometheus's staleness marker is a NaN of its own; scenario series hold no other NaN.
STALE = float("nan")
TARGET_LABELS = ("job", "instance")
LOOKBACK = Duration.parse("5m")
MAX_STEPS = 100_000  # Prometheus's default --query.lookback-delta
Group = dict[Labels, float]
_NOTHING: Group = {}  # what a count holds at a step that is not evaluated
# A target's `up` at a step, from whether one of its series has a sample there and
# whether one has a staleness marker: a sample wins.
_UP: dict[tuple[bool, bool], Sample] = {(True, True): 1.0, (True, False): 1.0, (False, True): 0.0, (False, False): None}


class ScenarioError(ValueError):
    """Series cannot be synthesized for an alert (reported as a spec error)."""


@dataclass
class Series:
    metric: str
    labels: Labels
    samples: list[Sample]


@dataclass
class SeriesSet:
    """Synthesized input series, sampled every `step` for `length` steps."""

    step: Duration
    length: int
    series: dict[tuple[str, Labels], Series] = field(default_factory=dict)
    every: int = 1  # rules are evaluated every `every` steps; functions skip the rest
    # Labels every series put here gets unless it has its own: the scrape target
    # it belongs to (empty: series with no target, as a spec's examples write them).
    target: Labels = ()
    # Set while a model reads the series and nothing changes them (`reading`): what
    # reads derive from the series alone, kept for the next read. A burn rate reads
    # the same series for seven windows on two sides, each deriving the targets' `up`
    # and every counter's index again otherwise.
    _memo: _Memo | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A window of years at a minute's step would allocate millions of samples per
        # series and take minutes: say so instead of running out of memory.
        if self.length > MAX_STEPS:
            raise ScenarioError(
                f"a test scenario would need {self.length:,} samples of {self.step} "
                f"(at most {MAX_STEPS:,}): shorten the window, offset or `for`, or lengthen the interval"
            )

    @contextmanager
    def reading(self) -> Iterator[None]:
        """While the caller only reads the series (neither `put` nor a change to samples),
        every read shares what it derives from them."""
        self._memo = _Memo()
        try:
            yield
        finally:
            self._memo = None

    def evaluated(self, start: int = 0) -> range:
        """The evaluation steps from `start` on."""
        return range(start + (-start) % self.every, self.length, self.every)

    def steps(self, duration: Duration) -> int:
        """A duration in whole steps (windows and `for` are multiples of the step)."""
        return -(-duration.ms // self.step.ms)

    def put(self, metric: str, labels: dict[str, str], samples: Sequence[Sample]) -> Series:
        return self._keep(metric, labels, list(islice(samples, self.length)))

    def put_counter(self, metric: str, labels: dict[str, str], increments: Sequence[float]) -> Series:
        """A counter from its per-step increments; it starts at 0."""
        samples: list[Sample] = [0.0, *accumulate(islice(increments, max(self.length - 1, 0)))]
        del samples[self.length :]
        return self._keep(metric, labels, samples)

    def _keep(self, metric: str, labels: dict[str, str], padded: list[Sample]) -> Series:
        """`padded` (a list of its own, at most `length` samples) as the series, its last
        sample repeated to `length`."""
        key = (metric, tuple(sorted({**dict(self.target), **labels}.items())))
        if key in self.series:
            raise ScenarioError(f"two scenario series would be the same: {metric}{labels}")
        padded += [padded[-1] if padded else None] * (self.length - len(padded))
        self.series[key] = Series(metric, key[1], padded)
        return self.series[key]

    def select(self, metric: str, matchers: Iterable[Matcher]) -> list[Series]:
        matchers = tuple(matchers)
        return [
            s
            for (name, _), s in sorted(self.series.items())
            if name == metric and all(m.matches(dict(s.labels).get(m.label, "")) for m in matchers)
        ]

    # --- PromQL functions over the model, for every step at once ---------------------

    def lookup(self, samples: Sequence[Sample], i: int, lookback: Duration = LOOKBACK) -> Sample:
        """An instant selector's value at step `i`: the latest sample at most `lookback`
        old, both ends included (Prometheus 2.x); None before the first step."""
        if i < 0:
            return None
        for j in range(i, max(-1, i - lookback.ms // self.step.ms - 1), -1):
            value = samples[j]
            if value is not None:
                return None if value != value else value  # a staleness marker hides the series
        return None

    def points(self, samples: Sequence[Sample], i: int, n: int) -> list[tuple[int, float]]:
        """A range selector `[n steps]` at step `i`: (step, value) of every sample in
        [i - n, i], both ends included (Prometheus 2.42), staleness markers skipped."""
        return [(j, v) for j in range(max(0, i - n), i + 1) if (v := samples[j]) is not None and v == v]

    def extrapolated_increase(self, points: Sequence[tuple[int, float]], i: int, n: int) -> float | None:
        """`increase()` over `points` of the window `[i - n, i]`: Prometheus 2.42's
        extrapolatedRate for counters, in Go's order of operations (None under two samples)."""
        if len(points) < 2:
            return None
        result = points[-1][1] - points[0][1]
        previous = 0.0
        for _, value in points:
            if value < previous:
                result += previous
            previous = value
        return self._extrapolate(points[0], points[-1], len(points), result, i, n)

    def _extrapolate(
        self, first: tuple[int, float], last: tuple[int, float], count: int, result: float, i: int, n: int
    ) -> float:
        """The tail of extrapolatedRate: `result` (the reset-corrected difference of
        `count` samples from `first` to `last`) stretched toward the window's ends."""
        ms = self.step.ms
        to_start = ((first[0] - (i - n)) * ms) / 1000
        to_end = ((i - last[0]) * ms) / 1000
        sampled = ((last[0] - first[0]) * ms) / 1000
        average = sampled / (count - 1)
        if result > 0 and first[1] >= 0:
            to_start = min(to_start, sampled * (first[1] / result))
        threshold = average * 1.1
        interval = sampled
        interval += to_start if to_start < threshold else average / 2
        interval += to_end if to_end < threshold else average / 2
        return result * (interval / sampled)

    def up(self, labels: Labels, derived: dict[Labels, list[Sample]]) -> list[Sample]:
        """The `up` series of the scrape target `labels` belongs to: given, or derived
        (`_derived_up`); none for a series with no target."""
        target = tuple((k, v) for k, v in labels if k in TARGET_LABELS)
        given = self.series.get(("up", target))
        return given.samples if given is not None else derived.get(target, [])

    def _derived_up(self) -> dict[Labels, list[Sample]]:
        """Per target with no `up` series given: 1 at each step where one of its series
        has a sample (a scrape succeeded), 0 where they only hold staleness markers
        (it failed)."""
        out: dict[Labels, list[Sample]] = {}
        # Per target, the steps where `up` is not yet 1 (a later series may still change
        # them). Latency scenarios hold a week of samples per series with the same
        # stretches missing in all of them: the first series decides most steps, and
        # the rest are read at the undecided ones alone, in C.
        undecided: dict[Labels, list[int]] = {}
        for (metric, labels), s in sorted(self.series.items()):
            target = tuple((k, v) for k, v in labels if k in TARGET_LABELS)
            if metric == "up" or len(target) < len(TARGET_LABELS) or ("up", target) in self.series:
                continue
            samples = s.samples
            up = out.get(target)
            if up is None:
                # A sample neither missing nor a staleness marker (NaN: unequal to itself).
                real = map(and_, map(is_not, samples, repeat(None)), map(eq, samples, samples))
                up = out[target] = list(map(_UP.__getitem__, zip(real, map(ne, samples, samples), strict=True)))
                undecided[target] = list(compress(range(len(up)), map(ne, up, repeat(1.0))))
                continue
            steps = undecided[target]
            seen = list(map(samples.__getitem__, steps))
            if seen.count(None) == len(seen):
                continue
            still = []
            for j, v in zip(steps, seen, strict=True):
                if v is not None and v == v:
                    up[j] = 1.0
                    continue
                if v is not None and up[j] is None:
                    up[j] = 0.0  # a staleness marker on every series of the target so far
                still.append(j)
            undecided[target] = still
        return out

    def with_targets(self) -> list[Series]:
        """Every series, with the `up` series of each target that was not given one:
        what a test's input holds."""
        derived = [Series("up", t, samples) for t, samples in self._derived_up().items()]
        return sorted([*self.series.values(), *derived], key=lambda s: (s.metric, s.labels))

    def increase(
        self,
        metric: str,
        matchers: Iterable[Matcher],
        by: Sequence[str] | None,
        window: Duration,
        births: bool = True,
    ) -> list[Group]:
        """Events counted in the window ending at each evaluation step, summed by `by`,
        as rulesgen's counting rule reads them. Per series `x`:

        - absent a window ago on a target that was up then (`up offset W == 1`): born
          inside the window, counted whole (with `births`);
        - present now and a window ago, no reset in the window or the lookback
          before it (where `x offset W` may sit): `x - x offset W`;
        - otherwise `increase(x[W])`: resets, series that vanished (a killed pod, a
          failed scrape now), targets that were down or unknown a window ago.
        """
        memo = self._memo
        matchers = tuple(matchers)
        call = (metric, matchers, None if by is None else tuple(by), window, births)
        if memo is not None and call in memo.increases:
            return memo.increases[call]
        n = self.steps(window)
        # Steps not evaluated share one empty group (callers read groups, never change them).
        out: list[Group] = [_NOTHING] * self.length
        for i in self.evaluated():
            out[i] = {}
        derived = self._up_derived() if births else {}
        for s in self.select(metric, matchers):
            key = _group(s.labels, by)
            up = self.up(s.labels, derived) if births else []
            counter = self._counter(s)
            for i in self.evaluated():
                value = self._counted(counter, up, i, n)
                if value is not None:
                    out[i][key] = out[i].get(key, 0.0) + value
        if memo is not None:
            memo.increases[call] = out
        return out

    def _up_derived(self) -> dict[Labels, list[Sample]]:
        """`_derived_up`, once per `reading`."""
        if self._memo is None:
            return self._derived_up()
        if self._memo.up is None:
            self._memo.up = self._derived_up()
        return self._memo.up

    def _counter(self, s: Series) -> _Counter:
        """A counter's index, once per `reading`."""
        if self._memo is None:
            return _Counter.of(s.samples)
        key = (s.metric, s.labels)
        counter = self._memo.counters.get(key)
        if counter is None:
            counter = self._memo.counters[key] = _Counter.of(s.samples)
        return counter

    def _counted(self, c: _Counter, up: Sequence[Sample], i: int, n: int) -> float | None:
        lookback = LOOKBACK.ms // self.step.ms
        # What an instant lookup reads now and a window ago, inline: this runs for every
        # series, window and evaluation.
        latest, samples = c.latest, c.samples
        j = latest[i]
        now = samples[j] if j >= 0 and i - j <= lookback else None
        now = None if now is None or now != now else now
        j = latest[i - n] if i >= n else -1
        before = samples[j] if j >= 0 and i - n - j <= lookback else None
        before = None if before is None or before != before else before
        if now is not None and before is not None and not c.resets:
            # Never reset and seen at both ends: the exact clause's `x - x offset W`, with
            # no reset for its guard to find (most series at most steps; no bisect).
            return now - before
        if now is not None and before is None and up and self.lookup(up, i - n) == 1:
            return now
        lo, hi = bisect_left(c.steps, i - n), bisect_right(c.steps, i)
        # Resets between two samples of the window: at positions lo < k < hi.
        r0, r1 = bisect_right(c.resets, lo), bisect_left(c.resets, hi)
        # The exact clause's guard reads a lookback further back, from `before`'s sample on.
        guarded = bisect_right(c.resets, bisect_left(c.steps, i - n - lookback))
        if now is not None and before is not None and guarded == r1:
            return now - before
        if hi - lo < 2:
            return None
        result = c.values[hi - 1] - c.values[lo]
        for k in c.resets[r0:r1]:
            result += c.values[k - 1]
        first, last = (c.steps[lo], c.values[lo]), (c.steps[hi - 1], c.values[hi - 1])
        return self._extrapolate(first, last, hi - lo, result, i, n)

    def tiled(self, per_tile: Sequence[Group], window: Duration, tile: Duration) -> list[Group]:
        """`sum_over_time(record[window - 1ms:tile])` at each evaluation step, where
        `per_tile[j]` is what the record (counting one `tile`) holds at evaluation step
        `j`: the record as stored at the last `window / tile` multiples of `tile`, each
        the latest evaluation at most a lookback before it (none there: the tile counts
        nothing, as a record that returned nothing is stale). Groups come in no
        particular key order."""
        t, n = self.steps(tile), window.ms // tile.ms
        lookback = LOOKBACK.ms // self.step.ms
        # What the record holds at each multiple of the tile from the first step on
        # (earlier ones hold nothing).
        stored = [
            per_tile[p - p % self.every] if p - p % self.every >= p - lookback else {} for p in range(0, self.length, t)
        ]
        sums = _window_sums(stored, n)
        # Steps not evaluated share one empty group, as in `increase`.
        out: list[Group] = [_NOTHING] * self.length
        for i in self.evaluated():
            out[i] = dict(sums[i // t])
        return out

    def rate(
        self,
        metric: str,
        matchers: Iterable[Matcher],
        by: Sequence[str] | None,
        window: Duration,
        births: bool = True,
    ) -> list[Group]:
        """Events per second: the exact `increase` divided by the window's seconds."""
        seconds = window.seconds
        groups = self.increase(metric, matchers, by, window, births)
        # Most steps are not evaluated and hold no samples: skip the comprehension there.
        return [{k: v / seconds for k, v in g.items()} if g else {} for g in groups]

    def instant(
        self,
        metric: str,
        matchers: Iterable[Matcher],
        by: Sequence[str] | None,
        agg: str,
        last_over: int = 0,
        replicas_by: Sequence[str] = (),
    ) -> list[Group]:
        """`agg by (by) (metric{matchers})` at each step, or the raw series when `by` is
        None; with `last_over`, `last_over_time(metric[last_over steps])`, which a
        failed scrape's staleness marker does not interrupt; with `replicas_by`,
        `max without (replicas_by)` first (HA copies counted once)."""
        reducers: dict[str, Callable[[list[float]], float]] = {
            "sum": sum,
            "max": max,
            "min": min,
            "avg": lambda v: sum(v) / len(v),
            "count": len,
        }
        reduce = reducers[agg]
        chosen = self.select(metric, matchers)
        if replicas_by:
            # `max without`: one series per label set once the replica labels are gone.
            kept = [tuple((k, v) for k, v in s.labels if k not in replicas_by) for s in chosen]
            selected = [(_group(labels, by), s.samples, labels) for labels, s in zip(kept, chosen, strict=True)]
        else:
            selected = [(_group(s.labels, by), s.samples, s.labels) for s in chosen]
        keys = {labels: key for key, _, labels in selected}
        out: list[Group] = [{} for _ in range(self.length)]
        for i in self.evaluated():
            copies: dict[Labels, float] = {}
            for _, samples, labels in selected:
                if last_over:
                    points = self.points(samples, i, last_over)
                    value = points[-1][1] if points else None
                else:
                    value = self.lookup(samples, i)
                if value is not None:
                    copies[labels] = max(copies.get(labels, value), value)
            groups: dict[Labels, list[float]] = defaultdict(list)
            for labels, value in copies.items():
                groups[keys[labels]].append(value)
            out[i] = {k: float(reduce(v)) for k, v in groups.items()}
        return out

    def present(self, metric: str, matchers: Iterable[Matcher], lookback: Duration = LOOKBACK) -> list[bool]:
        """Whether an instant selector returns anything at each step: Prometheus 2.x
        sees a series' last sample for `lookback` (5m), ends included."""
        selected = [s.samples for s in self.select(metric, matchers)]
        return [any(self.lookup(samples, i, lookback) is not None for samples in selected) for i in range(self.length)]

    def seen_over(self, metric: str, matchers: Iterable[Matcher], n: int) -> list[bool]:
        """Whether `present_over_time(metric[n steps])` returns anything at each step: a
        sample in [i - n, i], both ends included (2.42), staleness markers skipped."""
        seen = [False] * self.length
        for s in self.select(metric, matchers):
            last = None  # the latest step with a real sample so far
            for i, value in enumerate(s.samples):
                if value is not None and value == value:
                    last = i
                if last is not None and i - last <= n:
                    seen[i] = True
        return seen

    def histogram_quantile(
        self,
        q: float,
        metric: str,
        matchers: Iterable[Matcher],
        by: Sequence[str],
        window: Duration,
        at: Iterable[int] | None = None,
    ) -> list[Group]:
        """`histogram_quantile(q, sum by (by, le) (rate(metric_bucket[window])))` at each
        evaluation step, or at the steps `at` (a baseline read with `offset` from the raw
        series is evaluated a fixed time before an evaluation, wherever that falls)."""
        n = self.steps(window)
        selected = [
            (_group(s.labels, by), float(dict(s.labels)["le"]), s.samples)
            for s in self.select(f"{metric}_bucket", matchers)
        ]
        # Steps not evaluated share one empty group, as in `increase`: a week of 5-minute
        # steps is thousands of dictionaries per call otherwise.
        out: list[Group] = [_NOTHING] * self.length
        for i in self.evaluated(1) if at is None else at:
            if i < 1:
                continue
            # The `sum by (le, ...)`: series of one group and bucket add up.
            buckets: dict[Labels, dict[float, float]] = defaultdict(lambda: defaultdict(float))
            for key, le, samples in selected:
                first, last = samples[max(0, i - n)], samples[i]
                if first is not None and last is not None:
                    buckets[key][le] += (last - first) / window.seconds
            values = ((k, bucket_quantile(q, list(b.items()))) for k, b in buckets.items())
            out[i] = {k: v for k, v in values if not math.isnan(v)}
        return out


@dataclass
class _Memo:
    """What reads of unchanging series derive from them (`SeriesSet.reading`)."""

    up: dict[Labels, list[Sample]] | None = None
    counters: dict[tuple[str, Labels], _Counter] = field(default_factory=dict)
    increases: dict[tuple[str, tuple[Matcher, ...], tuple[str, ...] | None, Duration, bool], list[Group]] = field(
        default_factory=dict
    )


@dataclass(frozen=True)
class _Counter:
    """One counter's samples indexed once, so that every window is read in logarithmic
    time: a three-day window at 5m steps holds 864 samples, evaluated at every step."""

    samples: Sequence[Sample]
    steps: list[int]  # steps holding a sample (not a gap, not a staleness marker)
    values: list[float]  # their values
    resets: list[int]  # positions k in `steps` whose value is below the one before
    latest: list[int]  # per step, the latest step at or before it with a sample or marker

    @classmethod
    def of(cls, samples: Sequence[Sample]) -> _Counter:
        steps = [j for j, v in enumerate(samples) if v is not None and v == v]
        values = [samples[j] or 0.0 for j in steps]
        resets = [k for k in range(1, len(values)) if values[k] < values[k - 1]]
        latest, last = [], -1
        for j, v in enumerate(samples):
            last = j if v is not None else last
            latest.append(last)
        return cls(samples, steps, values, resets, latest)


# Whole numbers of at most this size add up exactly in any order: window sums of them
# can slide (add the new tile, subtract the old) and still be the double a sum in
# order gives.
EXACT = 2.0**40


def _window_sums(tiles: Sequence[Group], n: int) -> list[Group]:
    """Per tile p, the sum by key of tiles p - n + 1 to p: a key present in any of them
    is present. Whole counts slide; others are added up in order from the latest tile
    back, as the record's `sum_over_time` would."""
    exact = all(float(v).is_integer() and abs(v) <= EXACT for g in tiles for v in g.values())
    out: list[Group] = []
    if not exact:
        for p in range(len(tiles)):
            total: Group = {}
            for q in range(p, max(p - n, -1), -1):
                for key, value in tiles[q].items():
                    total[key] = total.get(key, 0.0) + value
            out.append(total)
        return out
    running: Group = {}
    held: dict[Labels, int] = {}  # per key, tiles in the window that hold it
    for p, g in enumerate(tiles):
        for key, value in g.items():
            running[key] = running.get(key, 0.0) + value
            held[key] = held.get(key, 0) + 1
        if p >= n:
            for key, value in tiles[p - n].items():
                held[key] -= 1
                if held[key]:
                    running[key] -= value
                else:
                    del held[key], running[key]
        out.append(dict(running))
    return out


def _group(labels: Labels, by: Sequence[str] | None) -> Labels:
    if by is None:
        return labels
    return tuple((k, v) for k, v in labels if k in by)


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus 2.42's bucketQuantile: buckets of one upper bound add up, cumulative
    counts are made monotonic (each raised to the largest before it, as happens when
    instances with different bucket layouts are summed by `le`), then linear
    interpolation inside the bucket holding the rank, in Go's order of operations so
    that the result is the same double."""
    merged: dict[float, float] = {}
    for le, count in sorted(buckets):
        merged[le] = merged.get(le, 0.0) + count
    if not merged or not math.isinf(max(merged)):
        return math.nan
    bounds = list(merged)
    counts = list(accumulate(merged.values(), max))
    if len(bounds) < 2 or counts[-1] == 0:
        return math.nan
    rank = q * counts[-1]
    b = next((i for i, count in enumerate(counts[:-1]) if count >= rank), len(counts) - 1)
    if b == len(counts) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start, end, count = 0.0, bounds[b], counts[b]
    if b > 0:
        start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * (rank / count)


# --- alert state ----------------------------------------------------------------
