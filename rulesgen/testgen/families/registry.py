"""The one registry of scenario families and the small frozen context they read.

A family is a function from the context to plans, registered with the predicate over
a kind's `Invariants` that selects it, like the lint checks: the planner runs every
family whose predicate holds, in registration order, which is the order of the
generated scenarios (the core families first, then the production faults: see
`families/__init__.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rulesgen.kinds.base import Invariants
from rulesgen.kinds.toolkit import SAFE, Phase

if TYPE_CHECKING:
    from rulesgen.testgen.planner import Planner
    from rulesgen.testgen.simulation import Plan, Simulation

Scope = tuple[tuple[str, str], ...]  # a scope's labels, frozen


@dataclass(frozen=True)
class FamilyContext:
    """What a family reads: the planner's helpers, the main scope, a second one
    differing in a grouping label (or None), the one-label scopes outside the alert's
    common matchers, the label that tells two replicas apart (`instance`, or `job`
    where the alert groups by or matches on instance) and the longest counting window
    in steps."""

    planner: Planner
    main: Scope
    second: Scope | None
    outside: Scope  # one (label, value) per scope outside the matchers
    replica_label: str
    window: int

    @classmethod
    def of(cls, planner: Planner) -> FamilyContext:
        """Built once per alert, before any family runs: computing the scopes also
        records the values each matcher names (`planner.named`), which families read."""
        main, second, outside = planner.scopes()
        alert = planner.alert
        constrained = set(alert.grouping()) | {m.label for m in alert.common_matchers(planner.resolve)}
        return cls(
            planner,
            tuple(main.items()),
            tuple(second.items()) if second is not None else None,
            tuple(item for scope in outside for item in scope.items()),
            "job" if "instance" in constrained else "instance",
            max((planner.sim_steps(w) for w in alert.counting_windows()), default=planner.k),
        )

    @property
    def scope(self) -> dict[str, str]:
        return dict(self.main)

    @property
    def second_scope(self) -> dict[str, str] | None:
        return dict(self.second) if self.second is not None else None

    def breach(self, length: int) -> Simulation:
        p = self.planner
        return p.new_sim(length).add(self.scope, [Phase(SAFE, p.warm), Phase(p.alert.firing_levels()[0], length)])

    def healthy(self, length: int) -> Simulation:
        return self.planner.new_sim(length).add(self.scope, [Phase(SAFE, length)])


Family = Callable[[FamilyContext], "list[Plan]"]


@dataclass(frozen=True)
class Registered:
    name: str
    applies: Callable[[Invariants], bool]
    build: Family


FAMILIES: list[Registered] = []


def family(name: str, applies: Callable[[Invariants], bool]) -> Callable[[Family], Family]:
    def register(build: Family) -> Family:
        FAMILIES.append(Registered(name, applies, build))
        return build

    return register


def selected(invariants: Invariants) -> list[Registered]:
    """The families a kind's invariants select, in registration order."""
    return [f for f in FAMILIES if f.applies(invariants)]


# --- what selects a family ------------------------------------------------------------


def always(inv: Invariants) -> bool:
    return True


def counters(inv: Invariants) -> bool:
    return inv.exact_counters


def gauges(inv: Invariants) -> bool:
    return inv.scraped_gauges


def scoped_absence(inv: Invariants) -> bool:
    return inv.scoped_absence
