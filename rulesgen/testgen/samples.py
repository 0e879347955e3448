"""Scenario samples as IR data: a series' samples folded into runs of equal
differences, exact as doubles (`ir.InputSeries.packed`), so that a week of samples is
a few runs. How a target writes them (promtool's `a+bxn`) is the target's business."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Sequence
from itertools import compress, count, pairwise, repeat
from operator import add, is_not, mul, ne, sub
from typing import cast

from rulesgen.ir import InputSeries, Labels

# Alerts of one shape (the same thresholds and windows, other metrics or label
# values) synthesize the same sample sequences again and again, some thousands of
# samples long: folding one costs far more than hashing it, and the runs are shared.
# Samples equal as keys (floats, so 0.0 and -0.0) fold alike. Bounded by the samples
# the keys hold, oldest out: at 500 alerts 46,956 sequences are 1,230 distinct ones of
# 375,864 samples in all, interleaved across kinds, which a bound of 256 entries
# folded 13,453 times.
RUNS_MEMO_SAMPLES = 1 << 19


class _Memo:
    """Runs by samples, the oldest dropped once the keys hold more than `limit` samples."""

    def __init__(self, limit: int) -> None:
        self.limit, self.held = limit, 0
        self.runs: dict[tuple[float | None, ...], array[float]] = {}

    def get(self, key: tuple[float | None, ...]) -> array[float] | None:
        return self.runs.get(key)

    def put(self, key: tuple[float | None, ...], runs: array[float]) -> None:
        while self.runs and self.held + len(key) > self.limit:
            oldest = next(iter(self.runs))
            del self.runs[oldest]
            self.held -= len(oldest)
        self.runs[key] = runs
        self.held += len(key)


_RUNS = _Memo(RUNS_MEMO_SAMPLES)


def input_series(metric: str, labels: Labels, samples: Sequence[float | None]) -> InputSeries:
    return InputSeries(metric, labels, runs_of(samples))


def runs_of(samples: Sequence[float | None]) -> array[float]:
    """The samples as packed runs (shared: never change one); memoized."""
    key = tuple(samples)
    runs = _RUNS.get(key)
    if runs is None:
        runs = _runs(key)
        _RUNS.put(key, runs)
    return runs


def _runs(samples: tuple[float | None, ...]) -> array[float]:
    # Scenario series run to thousands of samples (a latency baseline a week back), so
    # the scans run in C (map, compress, list equality) rather than as a Python loop
    # per sample, and the stretches of present and missing samples are found in one.
    n = len(samples)
    runs = array("d")
    if not n:
        return runs
    sampled = list(map(is_not, samples, repeat(None)))
    edges = [0, *compress(range(1, n), map(ne, sampled[1:], sampled)), n]
    for i, j in pairwise(edges):
        if sampled[i]:
            # A run never spans a missing sample: fold each present stretch on its own.
            _fold(cast(tuple[float, ...], samples[i:j]), runs)
        else:
            runs.extend((0.0, 0.0, i - j))
    return runs


def _fold(values: tuple[float, ...], runs: array[float]) -> None:
    """Append the runs of present samples: from each sample, the longest run of equal
    differences whose `a + b*k` reproduces every sample of it exactly; otherwise the
    sample alone, and the next one tried."""
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
            if j > i and list(map(add, repeat(value), map(mul, repeat(delta), range(j - i + 1)))) == list(
                values[i : j + 1]
            ):
                runs.extend((value, delta, j - i + 1))
                i = j + 1
                continue
        runs.extend((value, 0.0, 1))
        i += 1
