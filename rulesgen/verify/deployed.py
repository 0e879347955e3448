"""What `output/<env>` says should be deployed: its Prometheus rule groups (with the line
of every rule), its Alertmanager configuration and its expectations.json.

Two views of the same rule files: `load` gives the live checks typed rules with their
place in output/, and `load_groups` gives the rule runners the YAML mappings exactly as
Prometheus reads them, to be written out again verbatim."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rulesgen.conventions import TEST_SUFFIX, TESTS_DIR

EXPECTATIONS = "expectations.json"
RULE_SUFFIXES = (".yml", ".yaml")
# libyaml where available: the test files of a large spec run to megabytes.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Characters PyYAML refuses in a stream but Prometheus's YAML reader takes; generated
# files quote every string, so inside quotes they can be written as escapes instead.
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def load_yaml(text: str) -> Any:
    """YAML as promtool reads it, also when a quoted string holds a non-printable character."""
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.reader.ReaderError:
        return yaml.load(_NON_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text), Loader=_LOADER)


def rule_files(env_dir: Path) -> list[Path]:
    """The rule files of `env_dir/prometheus/`, in name order (Prometheus's load order)."""
    directory = env_dir / "prometheus"
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in RULE_SUFFIXES)


@dataclass(frozen=True)
class DeployedGroup:
    """One rule group as deployed, its rules as the YAML mappings Prometheus reads."""

    file: Path
    name: str
    rules: tuple[dict[str, Any], ...]
    interval: str | None = None  # the group's `interval`, when it sets one


def load_groups(env_dir: Path) -> list[DeployedGroup]:
    """Every rule group of `env_dir/prometheus/`, files in name order."""
    groups: list[DeployedGroup] = []
    for path in rule_files(env_dir):
        doc = load_yaml(path.read_text()) or {}
        for group in doc.get("groups") or []:
            interval = group.get("interval")
            groups.append(
                DeployedGroup(
                    path,
                    str(group.get("name", "")),
                    tuple(group.get("rules") or ()),
                    None if interval is None else str(interval),
                )
            )
    return groups


def alerts_of(groups: Iterable[DeployedGroup]) -> set[str]:
    """The alerts some alerting rule of `groups` fires."""
    return {str(rule["alert"]) for group in groups for rule in group.rules if "alert" in rule}


def deployed_alerts(env_dir: Path) -> set[str]:
    """The alerts `env_dir/prometheus/` deploys."""
    return alerts_of(load_groups(env_dir))


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
    """The environments `output/` holds: directories with deployed rules."""
    return sorted(p.parent.name for p in output.glob("*/prometheus") if p.is_dir())


def tested_environments(
    output: Path, envs: Sequence[str] | None = None
) -> Iterator[tuple[str, list[DeployedGroup], list[Path]]]:
    """Each environment of `output/` (only `envs` when given) with its deployed groups and
    its generated test files, as `rulesgen test` and `rulesgen mutate` read them."""
    for env in environments(output):
        if not envs or env in envs:
            yield env, load_groups(output / env), sorted((output / env / TESTS_DIR).glob(f"*{TEST_SUFFIX}"))


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
    groups = [g for path in rule_files(root) for g in _groups(path, str(path))]
    am_path = root / "alertmanager" / "alertmanager.yml"
    alertmanager = yaml.safe_load(am_path.read_text()) if am_path.is_file() else None
    exp_path = root / EXPECTATIONS
    try:
        expectations = json.loads(exp_path.read_text()) if exp_path.is_file() else {}
    except ValueError as exc:
        raise BadOutput(f"{exp_path}: not JSON: {exc}") from None
    return Deployed(env, root, tuple(groups), alertmanager, str(am_path), expectations)
