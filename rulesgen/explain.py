"""`rulesgen explain ALERT`: what an alert watches, the PromQL it evaluates (recording
rules expanded inline), its numbers, routes, panel, tests and source, per environment.
Reads only the IR and the generated tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rulesgen.ir import (
    Absent,
    Alert,
    AlertmanagerIR,
    AlertRule,
    All,
    Compare,
    Condition,
    EnvIR,
    InhibitRule,
    ProgramIR,
    TestSuite,
    compares,
)
from rulesgen.promql import number
from rulesgen.promql_inline import InlineError, inline, records_of


def words(condition: Condition) -> str:
    """The condition tree in words: `increase of x over 5m > 5 and ...`, each quantity
    against the number its PromQL compares it with."""
    if isinstance(condition, All):
        return " and ".join(words(c) for c in condition.conditions)
    if isinstance(condition, Absent):
        return condition.what
    return f"{condition.quantity.what} {condition.op} {number(round(condition.value, 12))}"


def threshold(compare: Compare) -> str:
    """`tiers[0].factor > 14.4`: the spec field and its value as the spec writes it."""
    return f"{compare.param} {compare.op} {compare.written or number(round(compare.value, 12))}"


def thresholds(condition: Condition) -> list[str]:
    """The condition's spec fields and values, each once (a burn-rate tier compares both
    its windows with one factor)."""
    return list(dict.fromkeys(threshold(c) for c in compares(condition)))


def expanded(expr: str, env: EnvIR) -> str:
    """`expr` with the recording rules it reads inlined, as promql_inline does for backtests."""
    try:
        return inline(expr, records_of(env))
    except InlineError as exc:
        return f"(not expanded: {exc})"


def _matches(matchers: Iterable[str], labels: dict[str, str]) -> bool:
    for m in matchers:
        key, _, value = m.partition("=")
        if labels.get(key) != value.strip('"'):
            return False
    return True


def receiver(am: AlertmanagerIR, labels: dict[str, str]) -> str:
    """The receiver Alertmanager's route tree picks for these labels (first match wins)."""
    route = am.route
    while True:
        child = next((r for r in route.routes if _matches(r.matchers, labels)), None)
        if child is None:
            return route.receiver
        route = child


def inhibitions(am: AlertmanagerIR, labels: dict[str, str]) -> tuple[list[InhibitRule], list[InhibitRule]]:
    """(rules that can mute this alert, rules it can mute others with)."""
    muted = [r for r in am.inhibit_rules if _matches(r.target, labels)]
    mutes = [r for r in am.inhibit_rules if _matches(r.source, labels)]
    return muted, mutes


def _rule(env: EnvIR, alert: Alert, rule: AlertRule) -> dict[str, Any]:
    labels = {"alertname": alert.name, **dict(rule.labels)}
    out: dict[str, Any] = {
        "condition": words(rule.condition),
        "expr": rule.expr,
        "expanded": expanded(rule.expr, env),
        "for": str(rule.for_),
        "severity": rule.severity,
        "thresholds": [
            {"param": c.param, "op": c.op, "value": c.value, "written": c.written, "unit": c.quantity.unit}
            for c in compares(rule.condition)
        ],
        "as_written": thresholds(rule.condition),
    }
    if env.alertmanager:
        muted, mutes = inhibitions(env.alertmanager, labels)
        out["receiver"] = receiver(env.alertmanager, labels)
        out["muted_by"] = [r.name for r in muted]
        out["mutes"] = [r.name for r in mutes]
    return out


def explain(program: ProgramIR, tests: TestSuite, name: str, envs: Iterable[str]) -> dict[str, Any]:
    """Everything about one alert, per environment, as plain data."""
    out: dict[str, Any] = {"alert": name, "environments": {}}
    for env_name in envs:
        env = program.env(env_name)
        alert = next((a for a in env.alerts if a.name == name), None)
        if alert is None:
            out["environments"][env_name] = {"enabled": False}
            continue
        out["kind"] = alert.kind
        out["team"] = alert.team
        out["source"] = str(alert.origin)
        out["watches"] = [words(rule.condition) for rule in alert.rules]
        suite = next((t for t in tests.of(env_name) if t.alert == name), None)
        out["environments"][env_name] = {
            "enabled": True,
            "rules": [_rule(env, alert, rule) for rule in alert.rules],
            "grouping": list(alert.grouping),
            "dashboard": alert.panel.url if alert.panel else None,
            "runbook": alert.runbook_url,
            "tests": [{"name": s.name, "purpose": s.purpose} for s in suite.scenarios] if suite else [],
        }
    return out


def render_text(data: dict[str, Any]) -> str:
    lines = [f"{data['alert']} ({data.get('kind', '?')}, team {data.get('team', '?')})"]
    lines.append(f"  source: {data.get('source', '?')}")
    for what in dict.fromkeys(data.get("watches", [])):
        lines.append(f"  fires when: {what}")
    for env, info in data["environments"].items():
        lines.append("")
        if not info["enabled"]:
            lines.append(f"[{env}] disabled")
            continue
        lines.append(f"[{env}]")
        for rule in info["rules"]:
            numbers = ", ".join(rule["as_written"])
            lines.append(f"  {rule['severity']}: {numbers or rule['condition']}; for {rule['for']}")
            lines.append(f"    PromQL:   {rule['expr']}")
            lines.append(f"    expanded: {rule['expanded']}")
            if "receiver" in rule:
                lines.append(f"    routes to: {rule['receiver']}")
                lines.append(f"    muted by: {', '.join(rule['muted_by']) or 'nothing'}")
                lines.append(f"    mutes: {', '.join(rule['mutes']) or 'nothing'}")
        lines.append(f"  dashboard panel: {info['dashboard'] or 'none'}")
        lines.append(f"  runbook: {info['runbook'] or 'none'}")
        tests = ", ".join(f"{t['name']}" for t in info["tests"]) or "none"
        lines.append(f"  generated tests: {tests}")
    return "\n".join(lines)
