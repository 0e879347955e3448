"""`<env>/expectations.json`: what `rulesgen verify` compares a live server with and
cannot read from the rule files themselves: the metric catalog with its types, the
label sets with their known other values, each alert rule's expected receiver and
place in the spec, and the sha256 of the spec's text (what output/ was made from).

The receiver is found by walking the environment's Alertmanager route tree the way
Alertmanager does (depth first, the first matching child wins, no `continue`)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from rulesgen.ir import AlertRule, EnvIR, Origin, ProgramIR, Route
from rulesgen.targets.base import Files, Options, Target, Tests, header

VERSION = 1
_MATCHER = re.compile(r'^(?P<label>\w+)(?P<op>=~|!~|!=|=)"(?P<value>(?:[^"\\]|\\.)*)"$')


def _matches(matcher: str, labels: Mapping[str, str]) -> bool:
    found = _MATCHER.match(matcher)
    if found is None:
        raise ValueError(f"unsupported route matcher {matcher!r}")
    value: str = json.loads(f'"{found["value"]}"')
    actual = labels.get(found["label"], "")
    op = found["op"]
    if op in ("=~", "!~"):
        return (re.fullmatch(value, actual) is not None) == (op == "=~")
    return (actual == value) == (op == "=")


def receiver(route: Route, labels: Mapping[str, str]) -> str:
    """The receiver Alertmanager picks for an alert with these labels."""
    for child in route.routes:
        if all(_matches(m, labels) for m in child.matchers):
            return receiver(child, labels)
    return route.receiver


def _rule(env: EnvIR, alert: str, rule: AlertRule) -> dict[str, Any]:
    labels = {"alertname": alert, **dict(rule.labels)}
    out: dict[str, Any] = {"alert": alert, "labels": dict(rule.labels)}
    if env.alertmanager is not None:
        out["receiver"] = receiver(env.alertmanager.route, labels)
    return out


def _at(program: ProgramIR, origin: Origin) -> str:
    """`thresholds.yaml:12:3`: the spec's file name, as every generated header says it,
    so the file does not depend on where the spec was read from."""
    return f"{program.source}:{origin.line}:{origin.column}"


def document(program: ProgramIR, env: EnvIR) -> dict[str, Any]:
    return {
        # Sorts first, so the file starts with the banner that marks it as generated.
        "_comment": header(program.source, f"{env.env} expectations for `rulesgen verify`").replace("\n", " "),
        "version": VERSION,
        "spec_sha256": program.spec_sha256,
        "source": program.source,
        "env": env.env,
        "metrics": {
            m.name: {"type": m.type, "labels": list(m.labels), "origin": _at(program, m.origin)}
            for m in program.metrics
        },
        "label_sets": {
            s.name: {
                "label": s.label,
                "values": list(s.values),
                "others": list(s.others),
                "origin": _at(program, s.origin),
            }
            for s in program.label_sets
        },
        "alerts": {
            a.name: {
                "origin": _at(program, a.origin),
                "team": a.team,
                "rules": [_rule(env, a.name, r) for r in a.rules],
            }
            for a in sorted(env.alerts, key=lambda a: a.name)
        },
    }


def emit(program: ProgramIR, tests: Tests, options: Options) -> Files:
    return {
        f"{env.env}/expectations.json": (json.dumps(document(program, env), indent=2, sort_keys=True) + "\n").encode()
        for env in program.envs
    }


TARGET = Target("expectations", Options, emit, description="what `rulesgen verify` checks a live server against (JSON)")
