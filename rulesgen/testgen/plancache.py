"""Plans kept on disk by content (`rulesgen.cache`), so that a command run again on a
spec whose alert did not change does not simulate its scenarios again (planning is
most of what every compile costs: `validate`, `check`, `lint`, `explain` and
`generate` all plan).

An entry's key is everything a plan depends on besides rulesgen's own sources (the
cache's version): the alert's plan key (its fields but naming and routing) and the
spec-wide inputs the planner reads (label sets, metric labels, the values other
alerts name). Entries are JSON, never pickle: reading one cannot run code; one that
does not decode is a miss."""

from __future__ import annotations

import json
import zlib
from array import array
from collections.abc import Iterator, Mapping
from typing import Any

from rulesgen.cache import Cache, key_of
from rulesgen.ir import InputSeries
from rulesgen.model.alertstate import Firing
from rulesgen.promql import Duration
from rulesgen.testgen.simulation import Plan, PlannedCheck


class PlanCache:
    """Plans by content key; every failure to read or write is a miss, never an error."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        self.store = Cache("plans")
        self.context = json.dumps(context, sort_keys=True)

    def get(self, plan_key: str) -> tuple[Plan, ...] | None:
        data = self.store.get(key_of(self.context, plan_key))
        if data is None:
            return None
        try:
            return decode(json.loads(zlib.decompress(data)))
        except (ValueError, TypeError, KeyError, OverflowError, zlib.error):
            return None

    def put(self, plan_key: str, plans: tuple[Plan, ...]) -> None:
        if not self.store.enabled:
            return  # with no cache (CI, `off`), encoding every plan cost a tenth of planning
        data = zlib.compress(json.dumps(encode(plans), separators=(",", ":")).encode(), 1)
        self.store.put(key_of(self.context, plan_key), data)


def encode(plans: tuple[Plan, ...]) -> list[Any]:
    return [
        [
            p.name,
            p.purpose,
            p.step.ms,
            p.eval_step.ms,
            [[s.metric, s.labels, s.packed.tolist()] for s in p.series],
            [[c.step, [[f.labels, f.value, f.variant] for f in c.firing]] for c in p.checks],
        ]
        for p in plans
    ]


def decode(data: list[Any]) -> tuple[Plan, ...]:
    # Scenarios of a plan share most runs (the same history); so do the decoded ones.
    # Runs are stored packed (`InputSeries.packed`, flat): decoding one is a copy in C.
    # Keyed by their bytes: equal bit for bit, staleness markers (NaN) and -0.0 too.
    shared: dict[bytes, array[float]] = {}

    def packed(flat: list[float]) -> array[float]:
        runs = array("d", flat)
        if len(runs) % 3:
            # Rendering reads whole runs only: the rest would be dropped without a word.
            raise ValueError("runs are packed three numbers each")
        return shared.setdefault(runs.tobytes(), runs)

    return tuple(
        Plan(
            name,
            purpose,
            Duration(step),
            tuple(InputSeries(m, _labels(labels), packed(runs)) for m, labels, runs in series),
            tuple(PlannedCheck(at, tuple(Firing(_labels(lb), v, n) for lb, v, n in firing)) for at, firing in checks),
            Duration(eval_step),
        )
        for name, purpose, step, eval_step, series, checks in data
    )


def _labels(pairs: list[list[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in _pairs(pairs))


def _pairs(pairs: list[list[str]]) -> Iterator[tuple[str, str]]:
    for k, v in pairs:
        yield str(k), str(v)
