"""Prometheus rule files: `<env>/prometheus/<team>.rules.yml`, loadable together."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rulesgen.ir import AlertRule, ProgramIR, RecordingRule, Rule, RuleGroup
from rulesgen.targets.base import Files, Options, Target, Tests, header
from rulesgen.targets.yamlout import dump


def rule_dict(rule: Rule) -> dict[str, Any]:
    if isinstance(rule, RecordingRule):
        out: dict[str, Any] = {"record": rule.record, "expr": rule.expr}
        if rule.labels:
            out["labels"] = dict(rule.labels)
        return out
    assert isinstance(rule, AlertRule)
    out = {"alert": rule.alert, "expr": rule.expr}
    if rule.for_.ms:
        out["for"] = str(rule.for_)
    if rule.keep_firing_for is not None and rule.keep_firing_for.ms:
        out["keep_firing_for"] = str(rule.keep_firing_for)
    out["labels"] = dict(rule.labels)
    out["annotations"] = dict(rule.annotations)
    return out


def groups_document(groups: tuple[RuleGroup, ...] | list[RuleGroup]) -> dict[str, Any]:
    return {
        "groups": [
            {"name": g.name, "interval": str(g.interval), "rules": [rule_dict(r) for r in g.rules]} for g in groups
        ]
    }


def rule_files(
    program: ProgramIR, folder: str, what: str, group_document: Callable[[RuleGroup], dict[str, Any]]
) -> Files:
    """`<env>/<folder>/<team>.rules.yml` for every group: the layout every rule-file
    format shares (Prometheus, vmalert, Thanos); only the group's own keys differ."""
    files: Files = {}
    for env in program.envs:
        for group in env.groups:
            files[f"{env.env}/{folder}/{group.file}"] = dump(
                {"groups": [group_document(group)]},
                header(program.source, f"{env.env} {what}rules of group {group.name}"),
            )
    return files


def emit(program: ProgramIR, tests: Tests, options: Options) -> Files:
    """One rule file per team and environment."""
    return rule_files(program, "prometheus", "", lambda group: groups_document([group])["groups"][0])


TARGET = Target("prometheus", Options, emit, description="Prometheus rule files, one per team")
