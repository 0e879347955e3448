"""A small model of PromQL evaluation, used to derive what generated tests expect.

Kinds synthesize input series for a scenario; this module evaluates the spec's
intent on them (independently of the generated PromQL) so that promtool, running
the real rules, is checked against an expectation it did not produce.

Counters are read as rulesgen's rules read them (`SeriesSet.increase`): exact event
counts from two instant lookups a window apart, with no extrapolation, so series may
be sampled out of step with evaluation, be born inside a window or reset. Instant
lookups follow Prometheus 2.x: the latest sample at most 5m old (`--query.lookback-delta`),
both ends included. Range selectors (histogram bucket rates) include both ends and
assume a sample at every step. Alerts go pending on the first true evaluation and
fire once `for` has elapsed, and `keep_firing_for` counts from the first false
evaluation.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate

from rulesgen.ir import Labels
from rulesgen.promql import Duration, Matcher, escape_string

Sample = float | None
LOOKBACK = Duration.parse("5m")
MAX_STEPS = 100_000  # Prometheus's default --query.lookback-delta
Group = dict[Labels, float]


class ScenarioError(ValueError):
    """Series cannot be synthesized for an alert (reported as a spec error)."""


@dataclass
class Series:
    metric: str
    labels: Labels
    samples: list[Sample]

    def text(self) -> str:
        """promtool's series notation: `metric{a="b"}`."""
        inner = ",".join(f"{k}={escape_string(v)}" for k, v in self.labels)
        return f"{self.metric}{{{inner}}}" if inner else self.metric


@dataclass
class SeriesSet:
    """Synthesized input series, sampled every `step` for `length` steps."""

    step: Duration
    length: int
    series: dict[tuple[str, Labels], Series] = field(default_factory=dict)
    every: int = 1  # rules are evaluated every `every` steps; functions skip the rest

    def __post_init__(self) -> None:
        # A window of years at a minute's step would allocate millions of samples per
        # series and take minutes: say so instead of running out of memory.
        if self.length > MAX_STEPS:
            raise ScenarioError(
                f"a test scenario would need {self.length:,} samples of {self.step} "
                f"(at most {MAX_STEPS:,}): shorten the window, offset or `for`, or lengthen the interval"
            )

    def evaluated(self, start: int = 0) -> range:
        """The evaluation steps from `start` on."""
        return range(start + (-start) % self.every, self.length, self.every)

    def steps(self, duration: Duration) -> int:
        """A duration in whole steps (windows and `for` are multiples of the step)."""
        return -(-duration.ms // self.step.ms)

    def put(self, metric: str, labels: dict[str, str], samples: Sequence[Sample]) -> None:
        key = (metric, tuple(sorted(labels.items())))
        if key in self.series:
            raise ScenarioError(f"two scenario series would be the same: {metric}{labels}")
        padded = list(samples)[: self.length]
        padded += [padded[-1] if padded else None] * (self.length - len(padded))
        self.series[key] = Series(metric, key[1], padded)

    def put_counter(self, metric: str, labels: dict[str, str], increments: Sequence[float]) -> None:
        """A counter from its per-step increments; it starts at 0."""
        self.put(metric, labels, [0.0, *accumulate(increments[: self.length - 1])])

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
            if samples[j] is not None:
                return samples[j]
        return None

    def increase(
        self,
        metric: str,
        matchers: Iterable[Matcher],
        by: Sequence[str] | None,
        window: Duration,
        births: bool = True,
    ) -> list[Group]:
        """Events counted exactly in the window ending at each evaluation step, summed by `by`.

        Per series, from the instant value now (`x`) and a window ago (`x offset window`):
        - both present: `x - x offset window`, or `x` where that is negative (a reset:
          the events since it);
        - present now only (born inside the window): `x`, as if the series had been 0
          just before, when `births` and the metric (any series, whatever the alert's
          matchers) had a sample a window ago: a Prometheus that has just started
          must not count lifetime totals as new events.
        """
        n = self.steps(window)
        out: list[Group] = [{} for _ in range(self.length)]
        history = [s.samples for (name, _), s in self.series.items() if name == metric]
        for s in self.select(metric, matchers):
            key = _group(s.labels, by)
            for i in self.evaluated():
                now, before = self.lookup(s.samples, i), self.lookup(s.samples, i - n)
                if now is None:
                    continue
                if before is not None:
                    value = now - before if now >= before else now
                elif births and any(self.lookup(h, i - n) is not None for h in history):
                    value = now
                else:
                    continue
                out[i][key] = out[i].get(key, 0.0) + value
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

    def instant(self, metric: str, matchers: Iterable[Matcher], by: Sequence[str] | None, agg: str) -> list[Group]:
        """`agg by (by) (metric{matchers})` at each step, or the raw series when `by` is None."""
        reducers: dict[str, Callable[[list[float]], float]] = {
            "sum": sum,
            "max": max,
            "min": min,
            "avg": lambda v: sum(v) / len(v),
        }
        reduce = reducers[agg]
        selected = [(_group(s.labels, by), s.samples) for s in self.select(metric, matchers)]
        out: list[Group] = [{} for _ in range(self.length)]
        for i in self.evaluated():
            groups: dict[Labels, list[float]] = defaultdict(list)
            for key, samples in selected:
                value = samples[i]
                if value is not None:
                    groups[key].append(value)
            out[i] = {k: float(reduce(v)) for k, v in groups.items()}
        return out

    def present(self, metric: str, matchers: Iterable[Matcher], lookback: Duration = LOOKBACK) -> list[bool]:
        """Whether an instant selector returns anything at each step: Prometheus 2.x
        sees a series' last sample for `lookback` (5m), ends included."""
        n = lookback.ms // self.step.ms
        selected = [s.samples for s in self.select(metric, matchers)]
        return [
            any(v is not None for samples in selected for v in samples[max(0, i - n) : i + 1])
            for i in range(self.length)
        ]

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
        out: list[Group] = [{} for _ in range(self.length)]
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
