"""The alert state machine of Prometheus 2.x: inactive, pending, firing.

An alert goes pending on the first evaluation its condition returns a sample,
fires once `for` has elapsed, and with `keep_firing_for` keeps firing (with its
last value) until that long after the first evaluation that returned nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rulesgen.ir import Labels
from rulesgen.promql import Duration

Group = dict[Labels, float]


@dataclass(frozen=True)
class Firing:
    labels: Labels  # labels of the result sample (grouping labels)
    value: float
    variant: int


def alert_states(
    truth: Sequence[Sequence[Group]], for_: Sequence[Duration], keep_firing_for: Duration | None, step: Duration
) -> list[list[Firing]]:
    """Firing alerts at each step, from the condition's result per variant and step.

    `truth[i][v]` holds the samples variant v's expression returns at step i.
    """
    active: dict[tuple[int, Labels], int] = {}  # pending or firing since step
    firing: set[tuple[int, Labels]] = set()
    false_since: dict[tuple[int, Labels], int] = {}
    last_value: dict[tuple[int, Labels], float] = {}
    out: list[list[Firing]] = []
    kff = keep_firing_for.ms if keep_firing_for else 0
    for i, variants in enumerate(truth):
        now: list[Firing] = []
        seen = set()
        for v, group in enumerate(variants):
            for labels, value in group.items():
                key = (v, labels)
                seen.add(key)
                false_since.pop(key, None)
                last_value[key] = value
                active.setdefault(key, i)
                if (i - active[key]) * step.ms >= for_[v].ms:
                    firing.add(key)
        for key in list(active):
            if key in seen:
                continue
            if key in firing and kff:
                since = false_since.setdefault(key, i)
                if (i - since) * step.ms < kff:
                    continue  # keeps firing with its last value
            active.pop(key)
            firing.discard(key)
            false_since.pop(key, None)
        for key in sorted(firing):
            now.append(Firing(key[1], last_value[key], key[0]))
        out.append(now)
    return out


# --- Prometheus template functions ----------------------------------------------
