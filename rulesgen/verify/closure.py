"""An alert's rule closure: its alerting rules and every recording rule they read,
transitively, taken from the deployed rule groups.

Rules keep their deployed order and group, so recording rules are evaluated before the
rules reading them exactly when Prometheus would do so. A test run on the closure judges
the rules as deployed, hand edits included."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rulesgen.verify.deployed import DeployedGroup
from rulesgen.verify.selectors import metric_names


@dataclass(frozen=True)
class ClosureGroup:
    """The part of one deployed group an alert needs: its alerting rules and the
    recording rules they read, in deployed order."""

    name: str
    file: Path
    rules: tuple[dict[str, Any], ...]
    interval: str | None = None  # how often Prometheus evaluates the deployed group


def rule_closure(groups: Iterable[DeployedGroup], alert: str) -> list[ClosureGroup]:
    """The alerting rules named `alert` and every recording rule they depend on."""
    groups = list(groups)
    records: dict[str, list[tuple[int, int]]] = {}
    for g, group in enumerate(groups):
        for r, rule in enumerate(group.rules):
            if "record" in rule:
                records.setdefault(str(rule["record"]), []).append((g, r))
    wanted = {
        (g, r) for g, group in enumerate(groups) for r, rule in enumerate(group.rules) if rule.get("alert") == alert
    }
    pending = [str(groups[g].rules[r].get("expr", "")) for g, r in sorted(wanted)]
    followed: set[str] = set()
    while pending:
        for name in sorted(metric_names(pending.pop())):
            if name in records and name not in followed:
                followed.add(name)
                for g, r in records[name]:
                    wanted.add((g, r))
                    pending.append(str(groups[g].rules[r].get("expr", "")))
    closure: list[ClosureGroup] = []
    for g, group in enumerate(groups):
        rules = tuple(rule for r, rule in enumerate(group.rules) if (g, r) in wanted)
        if rules:
            closure.append(ClosureGroup(group.name, group.file, rules, group.interval))
    return closure


def closure_document(closure: Iterable[ClosureGroup], interval: str) -> dict[str, Any]:
    """A rule file of the closure, every group evaluated every `interval`.

    promtool evaluates all groups at the test's `evaluation_interval` anyway; giving
    the groups the same interval keeps the semantics of the per-alert rule files
    the tests were generated with."""
    return {"groups": [{"name": g.name, "interval": interval, "rules": list(g.rules)} for g in closure]}


def has_alerting_rule(closure: Iterable[ClosureGroup]) -> bool:
    return any("alert" in rule for group in closure for rule in group.rules)
