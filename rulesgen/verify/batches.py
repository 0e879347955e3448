"""What a promtool test file costs, and batches of files sized by that cost.

promtool takes many test files per process, and a process start costs about 30 ms, so
files are run in batches. A batch must neither hold more work than `--timeout` allows
one promtool run (at 500 alerts, six batches of 12 CPU minutes each timed out and judged
nothing), nor be so small that the starts add up: batches are cut to a share of the
timeout by estimated cost, and at least a few per worker so the pool stays balanced.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from rulesgen.promql import Duration

# promtool's cost model, measured on promtool 2.42 (CPU microseconds): a fixed cost per
# test group (a fresh TSDB, the rule file loaded), per rule per evaluation step, and per
# input sample loaded. The ratios balance the batches; the absolute figures bound them.
GROUP_US = 10_000
RULE_STEP_US = 100
SAMPLE_US = 1
# The share of `--timeout` one batch is expected to take on an idle core. The timeout is
# wall time: a shared machine at load 8 on 2 cores stretches CPU time 4x, and the model
# errs by up to 2x on single files, so a batch is planned at an eighth of it.
TIMEOUT_SHARE = 1 / 8
# Batches per worker at least: a worker that drew cheap batches (or a quiet core) takes
# the next one, so an estimate that is off, or a neighbour's load, does not leave a core
# idle at the end.
BATCHES_PER_WORKER = 3
_REPEAT = re.compile(r"x(\d+)$")

T = TypeVar("T")


def input_samples(tests: Iterable[Mapping[str, Any]]) -> int:
    """Samples promtool loads for the test groups, from promtool's series notation
    (`1+2x10` is 11 samples, `_x5` is 5 gaps: cheap, but counted as not free)."""
    count = 0
    for test in tests:
        for series in test.get("input_series") or []:
            for token in str(series.get("values", "")).split():
                repeat = _REPEAT.search(token)
                count += (int(repeat.group(1)) + (not token.startswith("_"))) if repeat else 1
    return count


def evaluations(doc: Mapping[str, Any]) -> int:
    """Rule evaluation steps promtool runs for a test file: each test group evaluates
    every `evaluation_interval` up to its last `eval_time`."""
    interval = Duration.parse(doc.get("evaluation_interval", "1m")).ms
    return sum(
        max((Duration.parse(c["eval_time"]).ms for c in test.get("alert_rule_test") or []), default=0) // interval + 1
        for test in doc.get("tests") or []
    )


def estimate(doc: Mapping[str, Any], rules: int) -> int:
    """promtool CPU microseconds to run the test file `doc` against `rules` rules."""
    tests = doc.get("tests") or []
    return GROUP_US * len(tests) + RULE_STEP_US * evaluations(doc) * max(rules, 1) + SAMPLE_US * input_samples(tests)


def budget(timeout: float) -> int:
    """The estimated cost (microseconds) one batch is planned to stay under."""
    return max(int(timeout * 1e6 * TIMEOUT_SHARE), 1)


def _spread(items: Sequence[T], cost: Callable[[T], int], count: int) -> list[list[T]]:
    """Costliest items first onto the least loaded of `count` batches."""
    heap = [(0, i) for i in range(count)]
    batches: list[list[T]] = [[] for _ in range(count)]
    for item in sorted(items, key=lambda x: -cost(x)):
        load, i = heapq.heappop(heap)
        batches[i].append(item)
        heapq.heappush(heap, (load + cost(item), i))
    return [b for b in batches if b]


def plan(items: Sequence[T], cost: Callable[[T], int], workers: int, limit: int, max_items: int = 0) -> list[list[T]]:
    """Batches of `items` (kept in their given order among equal costs), costliest first.

    As many batches as it takes for none to exceed `limit` (an item costlier than that
    alone is a batch of its own), at least `BATCHES_PER_WORKER` per worker, and at least
    enough for `max_items` > 0 items per batch on average."""
    if not items:
        return []
    total = sum(cost(x) for x in items)
    count = max(max(workers, 1) * BATCHES_PER_WORKER, math.ceil(total / max(limit, 1)))
    if max_items > 0:
        count = max(count, math.ceil(len(items) / max_items))
    count = min(count, len(items))
    while True:
        batches = _spread(items, cost, count)
        over = any(len(b) > 1 and sum(map(cost, b)) > limit for b in batches)
        if not over or count >= len(items):
            return sorted(batches, key=lambda b: -sum(map(cost, b)))
        count = min(len(items), max(count + 1, math.ceil(count * 1.1)))
