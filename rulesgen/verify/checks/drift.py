"""Is what runs what `output/` says? Prometheus's loaded rules (`/api/v1/rules`) against
`output/<env>/prometheus`, group by group and rule by rule, expressions compared after
parsing both; Alertmanager's running configuration (`/api/v2/status`) against
`output/<env>/alertmanager/alertmanager.yml`, every setting output/ writes (settings
Alertmanager fills in with defaults are not ours to judge; secrets it hides are skipped)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from rulesgen.conventions import GENERATOR
from rulesgen.promql import Duration
from rulesgen.verify.client import alertmanager_config
from rulesgen.verify.context import Context
from rulesgen.verify.deployed import Group, Rule
from rulesgen.verify.findings import Finding
from rulesgen.verify.selectors import BadExpression, canonical

SECRET = "<secret>"


def _key(rules: list[tuple[str, str]]) -> list[tuple[str, str, int]]:
    """(kind, name, n): the n-th rule of that name in its group (burn-rate tiers share one)."""
    seen: Counter[tuple[str, str]] = Counter()
    out = []
    for kind, name in rules:
        out.append((kind, name, seen[(kind, name)]))
        seen[(kind, name)] += 1
    return out


def _same_expr(a: str, b: str) -> bool:
    try:
        return canonical(a) == canonical(b)
    except BadExpression:
        return a.strip() == b.strip()


def _seconds(text: str) -> float:
    try:
        return Duration.parse(text).seconds
    except ValueError:
        return -1.0


def _rule_changes(ours: Rule, theirs: Mapping[str, Any]) -> list[str]:
    changes = []
    if not _same_expr(ours.expr, str(theirs.get("query", ""))):
        changes.append(f"expression `{theirs.get('query')}` (output/ has `{ours.expr}`)")
    if ours.alerting and _seconds(ours.for_) != float(theirs.get("duration", 0)):
        changes.append(f"for {Duration(int(float(theirs.get('duration', 0)) * 1000))} (output/ has {ours.for_})")
    for what, mine in (("labels", ours.labels), ("annotations", ours.annotations if ours.alerting else {})):
        loaded = {str(k): str(v) for k, v in (theirs.get(what) or {}).items()}
        if loaded != mine:
            keys = sorted(k for k in set(loaded) | set(mine) if loaded.get(k) != mine.get(k))
            changes.append(f"{what} {', '.join(keys)}")
    return changes


def _group(ours: Group, theirs: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if _seconds(ours.interval) > 0 and _seconds(ours.interval) != float(theirs.get("interval", 0)):
        yield Finding(
            ours.place,
            "RG312",
            f"group {ours.name} is evaluated every {theirs.get('interval')}s (output/ has {ours.interval})",
            ours.name,
        )
    loaded = list(theirs.get("rules") or [])
    keys = _key([(str(r.get("type")), str(r.get("name"))) for r in loaded])
    by_key = dict(zip(keys, loaded, strict=True))
    mine = dict(zip(_key([(r.kind, r.name) for r in ours.rules]), ours.rules, strict=True))
    for key, rule in mine.items():
        spec = ctx.deployed.spec_place(rule.name)
        if key not in by_key:
            yield Finding(
                rule.place, "RG310", f"{rule.kind} rule {rule.name} is not loaded in {ours.name}", rule.name, spec
            )
        elif changes := _rule_changes(rule, by_key[key]):
            yield Finding(rule.place, "RG312", f"{rule.name} as loaded differs: {'; '.join(changes)}", rule.name, spec)
    for key in by_key.keys() - mine.keys():
        yield Finding(
            ours.place, "RG311", f"{key[0]} rule {key[1]} is loaded in {ours.name} but not in output/", key[1]
        )


def check_rules(ctx: Context) -> Iterator[Finding]:
    loaded: dict[str, dict[str, Any]] = {}
    for running in ctx.prometheus.rule_groups():
        loaded.setdefault(str(running.get("name")), running)
    ours = {g.name: g for g in ctx.deployed.groups}
    if not loaded:
        # A querier, or a store whose rules another process (vmalert, a ruler) runs.
        yield Finding(
            ctx.prometheus.client.url,
            "RG310",
            f"the server has no rule groups loaded ({len(ours)} in output/{ctx.deployed.env}); "
            "if another process evaluates them, point --prometheus at it or pass --skip rules",
            "rules",
        )
        return
    for name, group in ours.items():
        if name not in loaded:
            yield Finding(group.place, "RG310", f"rule group {name} is not loaded on the server", name)
        else:
            yield from _group(group, loaded[name], ctx)
    for name in sorted(loaded.keys() - ours.keys()):
        if name.startswith(f"{GENERATOR}."):
            yield Finding(
                ctx.prometheus.client.url,
                "RG311",
                f"rule group {name} is loaded but output/{ctx.deployed.env} has no such group",
                name,
            )


def _norm(value: Any) -> Any:
    """Durations and matchers compared by meaning: `24h` is `1d`, `a = "b"` is `a="b"`."""
    if isinstance(value, str):
        if (seconds := _seconds(value)) >= 0:
            return seconds
        return value.replace(" ", "")
    return value


def differences(ours: Any, theirs: Any, path: str) -> Iterator[str]:
    """Every setting of `ours` that `theirs` lacks or holds otherwise."""
    if isinstance(theirs, str) and theirs == SECRET:
        return
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            yield f"{path}: output/ has a mapping, Alertmanager runs {theirs!r}"
            return
        for key, value in ours.items():
            if key not in theirs:
                yield f"{path}.{key}: output/ has {value!r}, Alertmanager runs nothing"
            else:
                yield from differences(value, theirs[key], f"{path}.{key}")
    elif isinstance(ours, list):
        if not isinstance(theirs, list):
            yield f"{path}: output/ has a list, Alertmanager runs {theirs!r}"
        elif all(isinstance(v, str) for v in ours):
            if sorted(map(_norm, ours)) != sorted(map(_norm, theirs)):
                yield f"{path}: output/ has {ours}, Alertmanager runs {theirs}"
        elif len(ours) != len(theirs):
            yield f"{path}: output/ has {len(ours)} entries, Alertmanager runs {len(theirs)}"
        else:
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
                yield from differences(a, b, f"{path}[{i}]")
    elif _norm(ours) != _norm(theirs):
        yield f"{path}: output/ has {ours!r}, Alertmanager runs {theirs!r}"


def _by_name(receivers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(r.get("name")): r for r in receivers or []}


def check_alertmanager(ctx: Context) -> Iterator[Finding]:
    ours = ctx.deployed.alertmanager
    if ctx.alertmanager is None or ours is None:
        return
    theirs = yaml.safe_load(alertmanager_config(ctx.alertmanager)) or {}
    place = ctx.deployed.alertmanager_file
    found: list[str] = []
    mine, running = _by_name(ours.get("receivers", [])), _by_name(theirs.get("receivers", []))
    found += [f"receiver {name!r} is not configured" for name in sorted(mine.keys() - running.keys())]
    found += [f"receiver {name!r} is configured but not in output/" for name in sorted(running.keys() - mine.keys())]
    for name in sorted(mine.keys() & running.keys()):
        found += differences(mine[name], running[name], f"receivers[{name}]")
    found += differences(ours.get("route", {}), theirs.get("route", {}), "route")
    found += differences(ours.get("inhibit_rules", []), theirs.get("inhibit_rules") or [], "inhibit_rules")
    for message in found:
        yield Finding(place, "RG313", message, "alertmanager")
