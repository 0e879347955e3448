"""What `output/<env>` says should be deployed: its Prometheus rule groups (with the line
of every rule), its Alertmanager configuration and its expectations.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPECTATIONS = "expectations.json"


class BadOutput(Exception):
    """`output/<env>` is missing or unreadable: verification cannot start."""


@dataclass(frozen=True)
class Rule:
    kind: str  # alerting | recording
    name: str
    expr: str
    for_: str
    labels: dict[str, str]
    annotations: dict[str, str]
    place: str  # file:line in output/

    @property
    def alerting(self) -> bool:
        return self.kind == "alerting"


@dataclass(frozen=True)
class Group:
    name: str
    interval: str
    rules: tuple[Rule, ...]
    place: str


@dataclass(frozen=True)
class Deployed:
    env: str
    root: Path
    groups: tuple[Group, ...]
    alertmanager: dict[str, Any] | None
    alertmanager_file: str
    expectations: dict[str, Any] = field(default_factory=dict)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(r for g in self.groups for r in g.rules)

    @property
    def records(self) -> set[str]:
        return {r.name for r in self.rules if not r.alerting}

    def spec_place(self, alert: str) -> str:
        """Where the spec declares an alert, when expectations.json says."""
        return str(self.expectations.get("alerts", {}).get(alert, {}).get("origin", ""))


def environments(output: Path) -> list[str]:
    return sorted(p.parent.name for p in output.glob("*/prometheus") if p.is_dir())


def _mappings(node: yaml.Node) -> dict[str, yaml.Node]:
    assert isinstance(node, yaml.MappingNode)
    return {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def _groups(path: Path, shown: str) -> list[Group]:
    text = path.read_text()
    try:
        doc = yaml.safe_load(text) or {}
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise BadOutput(f"{shown}: not YAML: {exc}") from None
    if root is None or not isinstance(doc.get("groups"), list):
        raise BadOutput(f"{shown}: no `groups:` list")
    nodes = _mappings(root)["groups"]
    assert isinstance(nodes, yaml.SequenceNode)
    out = []
    for group, gnode in zip(doc["groups"], nodes.value, strict=True):
        rule_nodes = _mappings(gnode).get("rules")
        marks = [n.start_mark.line + 1 for n in rule_nodes.value] if isinstance(rule_nodes, yaml.SequenceNode) else []
        rules = tuple(
            Rule(
                kind="alerting" if "alert" in r else "recording",
                name=str(r.get("alert") or r.get("record")),
                expr=str(r["expr"]),
                for_=str(r.get("for", "0s")),
                labels=_str_map(r.get("labels")),
                annotations=_str_map(r.get("annotations")),
                place=f"{shown}:{line}",
            )
            for r, line in zip(group.get("rules") or [], marks, strict=True)
        )
        out.append(
            Group(str(group["name"]), str(group.get("interval", "")), rules, f"{shown}:{gnode.start_mark.line + 1}")
        )
    return out


def load(output: Path, env: str) -> Deployed:
    root = output / env
    if not (root / "prometheus").is_dir():
        known = ", ".join(environments(output)) or "none"
        raise BadOutput(
            f"{root}/prometheus does not exist (environments in {output}: {known}); run `rulesgen generate`"
        )
    groups = [g for path in sorted((root / "prometheus").glob("*.yml")) for g in _groups(path, str(path))]
    am_path = root / "alertmanager" / "alertmanager.yml"
    alertmanager = yaml.safe_load(am_path.read_text()) if am_path.is_file() else None
    exp_path = root / EXPECTATIONS
    try:
        expectations = json.loads(exp_path.read_text()) if exp_path.is_file() else {}
    except ValueError as exc:
        raise BadOutput(f"{exp_path}: not JSON: {exc}") from None
    return Deployed(env, root, tuple(groups), alertmanager, str(am_path), expectations)
