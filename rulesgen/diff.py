"""`rulesgen diff`: what a change to the spec means, read from the IR of both versions.

Both specs are compiled (without unit tests) and compared per environment: each alert's
conditions leaf by leaf (keyed by the spec field a value comes from, so a burn-rate tier
or a latency floor is its own line), its `for`, window, severity, receiver (through the
routing IR), labels and annotations; recording rules added, removed, renamed or
changed, with the alerts and panels that read them; dashboard panels; routes,
receivers and inhibitions. Nothing here reads the spec models: only `rulesgen.ir`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rulesgen import children
from rulesgen.explain import receiver, words
from rulesgen.ir import (
    Absent,
    Alert,
    AlertmanagerIR,
    AlertRule,
    Compare,
    Dashboard,
    EnvIR,
    Panel,
    ProgramIR,
    RecordingRule,
    Route,
    leaves,
)
from rulesgen.promql import Duration, number

# Statuses of an alert in one environment.
ADDED, REMOVED, ENABLED, DISABLED, CHANGED, UNCHANGED = (
    "added",
    "removed",
    "enabled",
    "disabled",
    "changed",
    "unchanged",
)
RENAMED = "renamed"

SOONER, LATER = "pages sooner", "pages later"


@dataclass(frozen=True)
class Change:
    """One field that differs. `field` names it as the spec does (`threshold`, `for`,
    `tiers[0].factor`, `label team`); `old` and `new` are as a reviewer reads them
    (None: the field is absent on that side); `meaning` says what the move does."""

    field: str
    old: str | None
    new: str | None
    meaning: str = ""


@dataclass(frozen=True)
class AlertDiff:
    """One alert in one environment. `status` is changed, added, removed, enabled,
    disabled, or unchanged (listed because it changed in another environment: then
    `changes` holds the same fields with equal values). `brief` sums up the alert."""

    alert: str
    status: str
    changes: tuple[Change, ...] = ()
    brief: str = ""
    watches: tuple[str, ...] = ()
    source: str = ""
    dashboard: str | None = None
    runbook: str | None = None


@dataclass(frozen=True)
class RecordDiff:
    """A recording rule added, removed, renamed (same expression, other name; `old_name`)
    or changed (same name, other expression), with the alerts and dashboard panels
    (`Dashboard / Panel`) that read it, directly or through another recording rule."""

    record: str
    status: str
    old_name: str | None = None
    old_expr: str | None = None
    new_expr: str | None = None
    alerts: tuple[str, ...] = ()
    panels: tuple[str, ...] = ()


@dataclass(frozen=True)
class PanelDiff:
    """A dashboard or one of its panels (`panel` empty: the dashboard itself)."""

    dashboard: str
    panel: str
    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class RoutingDiff:
    """A part of the Alertmanager config: `route` (named by its matchers), `receiver`,
    `inhibition`, `group_by` or `resolve_timeout`."""

    part: str
    name: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class EnvDiff:
    env: str
    status: str  # changed | unchanged | added | removed
    changes: tuple[Change, ...] = ()  # the environment's own: labels, rule group intervals
    alerts: tuple[AlertDiff, ...] = ()
    records: tuple[RecordDiff, ...] = ()
    dashboards: tuple[PanelDiff, ...] = ()
    routing: tuple[RoutingDiff, ...] = ()

    @property
    def changed(self) -> bool:
        return self.status not in (UNCHANGED, CHANGED) or bool(
            self.changes
            or any(a.status != UNCHANGED for a in self.alerts)
            or self.records
            or self.dashboards
            or self.routing
        )


@dataclass(frozen=True)
class ProgramDiff:
    base: str
    head: str
    envs: tuple[EnvDiff, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> bool:
        return any(e.changed for e in self.envs)

    def changed_alerts(self) -> dict[str, dict[str, str]]:
        """Per environment compared on both sides, each alert that changed -> its status
        (the unchanged rows shown beside a change elsewhere are left out)."""
        return {
            e.env: {a.alert: a.status for a in e.alerts if a.status != UNCHANGED}
            for e in self.envs
            if e.status in (CHANGED, UNCHANGED)
        }


@dataclass(frozen=True)
class Notes:
    """Lines another command adds to the report (`--backtest`'s): `head` under the
    title, and per environment (alert, sentence) pairs under its changes."""

    head: tuple[str, ...] = ()
    alerts: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)


# --- facts: each alert as field -> value, compared field by field -------------------


@dataclass(frozen=True)
class _Fact:
    """A field's value as shown, with what is needed to compare it and say what a move
    means: `op`/`value` for a comparison, `value` in seconds for a delay."""

    text: str
    sense: str = ""  # threshold | delay | resolve | receiver | annotation | watches
    op: str = ""
    value: float | None = None
    key: str | None = None  # compared instead of `text` when set

    @property
    def compared(self) -> str:
        return self.text if self.key is None else self.key


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _rule_keys(alert: Alert) -> list[str]:
    """A prefix per rule: none for a single rule, else its spec field (`tiers[0] `) taken
    from its comparisons' params, or its position when those do not tell rules apart."""
    if len(alert.rules) == 1:
        return [""]
    keys = []
    for rule in alert.rules:
        params = sorted({leaf.param.rsplit(".", 1)[0] for leaf in leaves(rule.condition) if isinstance(leaf, Compare)})
        keys.append(f"{', '.join(params)} " if params else "")
    if len(set(keys)) != len(keys) or "" in keys:
        keys = [f"rule[{i}] " for i in range(len(alert.rules))]
    return keys


def _value(compare: Compare) -> str:
    return f"{compare.op} {number(round(compare.value, 12))}"


def _windows(rule: AlertRule) -> list[Duration]:
    out: list[Duration] = []
    for leaf in leaves(rule.condition):
        if isinstance(leaf, Compare) and leaf.quantity.window is not None and leaf.quantity.window not in out:
            out.append(leaf.quantity.window)
    return out


def _watches(rule: AlertRule) -> _Fact:
    """What the rule reads, in words, compared with its windows left out: a new window
    is its own line, and its recording rules' new names follow from it."""
    parts, keys = [], []
    for leaf in leaves(rule.condition):
        if isinstance(leaf, Absent):
            parts.append(leaf.what)
            keys.append(leaf.what)
            continue
        what = leaf.quantity.what
        parts.append(what)
        window = leaf.quantity.window
        # The window is listed as a change of its own: the words may only repeat it.
        keys.append(re.sub(rf"(?<![\w.]){re.escape(str(window))}(?![\w.])", "<window>", what) if window else what)
    return _Fact("; ".join(dict.fromkeys(parts)), "watches", key="; ".join(dict.fromkeys(keys)))


def _receiver(am: AlertmanagerIR | None, alert: Alert, rule: AlertRule) -> str | None:
    if am is None:
        return None
    return receiver(am, {"alertname": alert.name, **dict(rule.labels)})


def _facts(env: EnvIR, alert: Alert) -> dict[str, _Fact]:
    facts: dict[str, _Fact] = {
        "kind": _Fact(alert.kind),
        "grouping": _Fact(", ".join(alert.grouping) or "(one series)"),
    }
    env_labels = dict(env.labels)
    for prefix, rule in zip(_rule_keys(alert), alert.rules, strict=True):
        by_param: dict[str, list[Compare]] = {}
        for leaf in leaves(rule.condition):
            if isinstance(leaf, Compare):
                by_param.setdefault(leaf.param, []).append(leaf)
            else:
                facts[f"{prefix}absent"] = _Fact(str(leaf.selector))
        for param, compares in by_param.items():
            # A burn-rate tier compares its long and short window with the same value: one line.
            shown = list(dict.fromkeys(_value(c) for c in compares))
            facts[param] = _Fact(" and ".join(shown), "threshold", compares[0].op, compares[0].value)
        windows = _windows(rule)
        if windows:
            facts[f"{prefix}window"] = _Fact(", ".join(str(w) for w in windows))
        facts[f"{prefix}watches"] = _watches(rule)
        facts[f"{prefix}for"] = _Fact(str(rule.for_), "delay", value=rule.for_.seconds)
        if rule.keep_firing_for is not None:
            facts[f"{prefix}keep_firing_for"] = _Fact(
                str(rule.keep_firing_for), "resolve", value=rule.keep_firing_for.seconds
            )
        facts[f"{prefix}severity"] = _Fact(rule.severity)
        target = _receiver(env.alertmanager, alert, rule)
        if target is not None:
            facts[f"{prefix}receiver"] = _Fact(target, "receiver")
        for name, value in rule.labels:
            # env and severity have their own lines; environment labels are the environment's.
            if name not in ("env", "severity") and env_labels.get(name) != value:
                facts[f"{prefix}label {name}"] = _Fact(value)
        for name, value in rule.annotations:
            facts[f"{prefix}annotation {name}"] = _Fact(value, "annotation", key=_NUMBER.sub("#", value))
    return facts


def _direction(op: str) -> str:
    return "above" if op.startswith(">") else "below"


def _meaning(old: _Fact | None, new: _Fact | None) -> str:
    if old is None or new is None:
        return "new field" if old is None else "field removed"
    if new.sense == "threshold" and old.value is not None and new.value is not None:
        if _direction(old.op) != _direction(new.op):
            return f"fires {_direction(new.op)} instead of {_direction(old.op)}"
        if old.value == new.value:
            return "fires at the threshold" if "=" in new.op else "fires only past the threshold"
        # For `>` a lower threshold is crossed sooner; for `<` a higher one is.
        lower = new.value < old.value
        return SOONER if lower == (_direction(new.op) == "above") else LATER
    if new.sense in ("delay", "resolve") and old.value is not None and new.value is not None:
        if new.sense == "resolve":
            return "resolves later" if new.value > old.value else "resolves sooner"
        return LATER if new.value > old.value else SOONER
    if new.sense == "receiver":
        if new.text == "null":
            return "no longer notifies"
        return "now notifies" if old.text == "null" else "notifies another receiver"
    return ""


_NUMERIC = ("threshold", "delay", "resolve")


def _compare_facts(old: dict[str, _Fact], new: dict[str, _Fact]) -> list[Change]:
    changes: list[Change] = []
    for name in [*old, *(k for k in new if k not in old)]:
        before, after = old.get(name), new.get(name)
        # An annotation that differs only in its numbers is kept here and dropped below
        # when it follows the numbers already listed (`[[ threshold ]]` in a summary).
        if (
            before is not None
            and after is not None
            and before.compared == after.compared
            and (before.text == after.text or before.sense != "annotation")
        ):
            continue
        changes.append(
            Change(name, before.text if before else None, after.text if after else None, _meaning(before, after))
        )
    numeric_moved = any(
        (old.get(c.field) or new.get(c.field) or _Fact("")).sense in _NUMERIC or c.field.endswith("window")
        for c in changes
    )
    return [
        c
        for c in changes
        if not (
            numeric_moved
            and c.old is not None
            and c.new is not None
            and (new.get(c.field) or _Fact("")).sense == "annotation"
            and _NUMBER.sub("#", c.old) == _NUMBER.sub("#", c.new)
        )
    ]


def _brief(env: EnvIR, alert: Alert) -> str:
    """One line: the numbers, `for`, severity and receiver of each rule."""
    parts = []
    for prefix, rule in zip(_rule_keys(alert), alert.rules, strict=True):
        numbers = [f"{c.param} {_value(c)}" for c in leaves(rule.condition) if isinstance(c, Compare)]
        numbers = list(dict.fromkeys(numbers)) or [words(rule.condition)]
        target = _receiver(env.alertmanager, alert, rule)
        routed = f"{rule.severity} -> {target}" if target else rule.severity
        parts.append(f"{prefix.strip() + ': ' if prefix else ''}{', '.join(numbers)}, for {rule.for_}, {routed}")
    return "; ".join(parts)


def _alert_diff(env: EnvIR, alert: Alert, status: str, changes: Iterable[Change] = ()) -> AlertDiff:
    return AlertDiff(
        alert=alert.name,
        status=status,
        changes=tuple(changes),
        brief=_brief(env, alert),
        watches=tuple(dict.fromkeys(words(r.condition) for r in alert.rules)),
        source=str(alert.origin),
        dashboard=alert.panel.url if alert.panel else None,
        runbook=alert.runbook_url,
    )


def _alerts(old: EnvIR, new: EnvIR, old_program: ProgramIR, new_program: ProgramIR) -> list[AlertDiff]:
    before = {a.name: a for a in old.alerts}
    after = {a.name: a for a in new.alerts}
    # Present in another environment of the same side: the alert exists and this
    # environment disables it; absent from every environment: it was added or removed.
    everywhere_old = {a.name for e in old_program.envs for a in e.alerts}
    everywhere_new = {a.name for e in new_program.envs for a in e.alerts}
    out: list[AlertDiff] = []
    for name in sorted(before.keys() | after.keys()):
        if name not in after:
            out.append(_alert_diff(old, before[name], DISABLED if name in everywhere_new else REMOVED))
        elif name not in before:
            out.append(_alert_diff(new, after[name], ENABLED if name in everywhere_old else ADDED))
        else:
            changes = _compare_facts(_facts(old, before[name]), _facts(new, after[name]))
            out.append(_alert_diff(new, after[name], CHANGED if changes else UNCHANGED, changes))
    return out


# --- recording rules ----------------------------------------------------------------


def _records(env: EnvIR) -> dict[str, RecordingRule]:
    return {r.record: r for g in env.groups for r in g.rules if isinstance(r, RecordingRule)}


def _names_in(expr: str, names: Iterable[str]) -> set[str]:
    return {n for n in names if re.search(rf"(?<![\w:]){re.escape(n)}(?![\w:])", expr)}


def _rename(expr: str, renames: dict[str, str]) -> str:
    for old, new in renames.items():
        expr = re.sub(rf"(?<![\w:]){re.escape(old)}(?![\w:])", new, expr)
    return expr


def _body(rule: RecordingRule, renames: dict[str, str]) -> str:
    return _rename(rule.expr, renames) + repr(rule.labels)


def _readers(env: EnvIR, record: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The alerts and dashboard panels that read `record`, directly or through other
    recording rules."""
    records = _records(env)

    def reads(expr: str, seen: frozenset[str] = frozenset()) -> bool:
        direct = _names_in(expr, records.keys() - seen)
        return record in direct or any(reads(records[n].expr, seen | {n}) for n in direct)

    alerts = sorted(
        {
            a.name
            for a in env.alerts
            if any(r.record == record for r in a.records) or any(reads(rule.expr) for rule in a.rules)
        }
    )
    panels = sorted(
        {f"{d.title} / {p.title}" for d in env.dashboards for p in d.panels if any(reads(q.expr) for q in p.queries)}
    )
    return tuple(alerts), tuple(panels)


def _record_diffs(old: EnvIR, new: EnvIR) -> list[RecordDiff]:
    before, after = _records(old), _records(new)
    removed = {n: r for n, r in before.items() if n not in after}
    added = {n: r for n, r in after.items() if n not in before}
    # A rename may change the expressions of the rules that read the renamed one: match
    # with renames found so far substituted, until no new rename turns up.
    renames: dict[str, str] = {}
    while True:
        taken = set(renames.values())
        found = False
        for name, rule in sorted(removed.items()):
            if name in renames:
                continue
            body = _body(rule, renames)
            match = next((n for n, r in sorted(added.items()) if n not in taken and _body(r, {}) == body), None)
            if match is not None:
                renames[name] = match
                taken.add(match)
                found = True
        if not found:
            break
    out: list[RecordDiff] = []
    for name, rule in sorted(removed.items()):
        if name not in renames:
            alerts, panels = _readers(old, name)
            out.append(RecordDiff(name, REMOVED, old_expr=rule.expr, alerts=alerts, panels=panels))
    for name, rule in sorted(added.items()):
        old_name = next((o for o, n in renames.items() if n == name), None)
        alerts, panels = _readers(new, name)
        status = ADDED if old_name is None else RENAMED
        old_expr = before[old_name].expr if old_name else None
        out.append(RecordDiff(name, status, old_name, old_expr, rule.expr, alerts, panels))
    for name in sorted(before.keys() & after.keys()):
        if _body(before[name], renames) != _body(after[name], {}):
            alerts, panels = _readers(new, name)
            out.append(RecordDiff(name, CHANGED, None, before[name].expr, after[name].expr, alerts, panels))
    return sorted(out, key=lambda r: r.record)


# --- dashboards ---------------------------------------------------------------------


def _steps(panel: Panel) -> str:
    return ", ".join(s.color if s.value is None else f"{s.color} from {number(s.value)}" for s in panel.thresholds)


def _panel_fields(panel: Panel) -> dict[str, str]:
    return {
        "title": panel.title,
        "type": panel.type,
        "unit": panel.unit,
        "width": str(panel.width),
        "description": panel.description,
        "queries": "; ".join(f"{q.expr}" + (f" [{q.legend}]" if q.legend else "") for q in panel.queries),
        "thresholds": _steps(panel),
    }


def _dashboard_fields(board: Dashboard) -> dict[str, str]:
    return {
        "tags": ", ".join(board.tags),
        "variables": ", ".join(f"{v.name}={v.metric}:{v.label}" for v in board.variables),
        "links": ", ".join(f"{link.title} {link.url}" for link in board.links),
    }


def _fields(board: str, panel: str, old: dict[str, str], new: dict[str, str]) -> Iterator[PanelDiff]:
    for name in old:
        if old[name] != new.get(name):
            yield PanelDiff(board, panel, name, old[name] or None, new.get(name) or None)


def _dashboard_diffs(old: EnvIR, new: EnvIR) -> list[PanelDiff]:
    before = {d.uid: d for d in old.dashboards}
    after = {d.uid: d for d in new.dashboards}
    out: list[PanelDiff] = []
    for uid in sorted(before.keys() | after.keys()):
        if uid not in after or uid not in before:
            board = before.get(uid) or after[uid]
            panels = f"{len(board.panels)} panels"
            out.append(
                PanelDiff(
                    board.title, "", "dashboard", panels if uid in before else None, panels if uid in after else None
                )
            )
            continue
        b, a = before[uid], after[uid]
        out += _fields(
            a.title, "", {"title": b.title, **_dashboard_fields(b)}, {"title": a.title, **_dashboard_fields(a)}
        )
        old_panels, new_panels = {p.id: p for p in b.panels}, {p.id: p for p in a.panels}
        for pid in sorted(old_panels.keys() | new_panels.keys()):
            op, np = old_panels.get(pid), new_panels.get(pid)
            if op is None or np is None:
                panel = op or np
                assert panel is not None
                out.append(
                    PanelDiff(
                        a.title,
                        panel.title,
                        "panel",
                        _steps(op) or "present" if op else None,
                        _steps(np) or "present" if np else None,
                    )
                )
            else:
                out += _fields(a.title, np.title, _panel_fields(op), _panel_fields(np))
    return out


# --- routing ------------------------------------------------------------------------


def _routes(route: Route, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    here = path + route.matchers
    timing = [
        f"{name} {value}"
        for name, value in (
            ("group_wait", route.group_wait),
            ("group_interval", route.group_interval),
            ("repeat_interval", route.repeat_interval),
        )
        if value is not None
    ]
    yield ", ".join(here) or "(root)", route.receiver + (f" ({', '.join(timing)})" if timing else "")
    for child in route.routes:
        yield from _routes(child, here)


def _routing_parts(am: AlertmanagerIR | None) -> dict[tuple[str, str], str]:
    if am is None:
        return {}
    parts: dict[tuple[str, str], str] = {("group_by", ""): ", ".join(am.group_by)}
    parts[("resolve_timeout", "")] = str(am.resolve_timeout)
    for path, target in _routes(am.route):
        parts[("route", path)] = target
    for rec in am.receivers:
        settings = "; ".join(
            f"{kind}: " + ", ".join(f"{k}={v}" for k, v in values) for kind, values in rec.integrations
        )
        parts[("receiver", rec.name)] = settings or "(no integration)"
    for rule in am.inhibit_rules:
        equal = f" when equal {', '.join(rule.equal)}" if rule.equal else ""
        parts[("inhibition", rule.name)] = f"{', '.join(rule.source)} mutes {', '.join(rule.target)}{equal}"
    return parts


def _routing_diffs(old: EnvIR, new: EnvIR) -> list[RoutingDiff]:
    before, after = _routing_parts(old.alertmanager), _routing_parts(new.alertmanager)
    return [
        RoutingDiff(part, name, before.get((part, name)), after.get((part, name)))
        for part, name in sorted(before.keys() | after.keys())
        if before.get((part, name)) != after.get((part, name))
    ]


# --- programs -----------------------------------------------------------------------


def _env_changes(old: EnvIR, new: EnvIR) -> list[Change]:
    changes = []
    labels_old = ", ".join(f"{k}={v}" for k, v in old.labels)
    labels_new = ", ".join(f"{k}={v}" for k, v in new.labels)
    if labels_old != labels_new:
        changes.append(Change("labels", labels_old or None, labels_new or None))
    intervals_old = {g.name: str(g.interval) for g in old.groups}
    intervals_new = {g.name: str(g.interval) for g in new.groups}
    for name in sorted(intervals_old.keys() | intervals_new.keys()):
        if intervals_old.get(name) != intervals_new.get(name):
            changes.append(Change(f"group {name} interval", intervals_old.get(name), intervals_new.get(name)))
    return changes


def diff_programs(old: ProgramIR, new: ProgramIR, base: str = "base", head: str = "spec") -> ProgramDiff:
    """What changed from `old` to `new`, per environment (sorted by name)."""
    before = {e.env: e for e in old.envs}
    after = {e.env: e for e in new.envs}
    envs: list[EnvDiff] = []
    alert_diffs: dict[str, list[AlertDiff]] = {}
    for name in sorted(before.keys() | after.keys()):
        if name not in after or name not in before:
            envs.append(EnvDiff(name, REMOVED if name not in after else ADDED))
            continue
        b, a = before[name], after[name]
        alert_diffs[name] = _alerts(b, a, old, new)
        envs.append(
            EnvDiff(
                name,
                UNCHANGED,
                tuple(_env_changes(b, a)),
                (),
                tuple(_record_diffs(b, a)),
                tuple(_dashboard_diffs(b, a)),
                tuple(_routing_diffs(b, a)),
            )
        )
    # An alert that changed in one environment is listed in the others too, with the
    # same fields' (unchanged) values there: a reviewer sees both environments' numbers.
    changed_fields: dict[str, list[str]] = {}
    for diffs in alert_diffs.values():
        for d in diffs:
            if d.status != UNCHANGED:
                fields = changed_fields.setdefault(d.alert, [])
                fields += [c.field for c in d.changes if c.field not in fields]
    out = []
    for env in envs:
        listed = []
        for d in alert_diffs.get(env.env, []):
            if d.status in (CHANGED, UNCHANGED) and d.alert in changed_fields:
                facts = _facts(after[env.env], after[env.env].alert(d.alert))
                own = {c.field for c in d.changes}
                same = tuple(
                    Change(f, facts[f].text, facts[f].text, UNCHANGED)
                    for f in changed_fields[d.alert]
                    if f in facts and f not in own
                )
                d = replace(d, changes=d.changes + same)
            if d.status != UNCHANGED or d.alert in changed_fields:
                listed.append(d)
        done = EnvDiff(env.env, env.status, env.changes, tuple(listed), env.records, env.dashboards, env.routing)
        out.append(replace(done, status=CHANGED) if done.status == UNCHANGED and done.changed else done)
    return ProgramDiff(base, head, tuple(out))


# --- reports ------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(diff: ProgramDiff) -> str:
    """One line: `1 alert changed in 1 of 2 environments; 1 dashboard panel changed`."""
    if not diff.changed:
        return "no changes"
    alerts = {a.alert for e in diff.envs for a in e.alerts if a.status != UNCHANGED}
    envs = [e for e in diff.envs if any(a.status != UNCHANGED for a in e.alerts)]
    compared = [e for e in diff.envs if e.status in (CHANGED, UNCHANGED)]
    parts = []
    if alerts:
        parts.append(
            f"{_plural(len(alerts), 'alert')} changed in {len(envs)} of {_plural(len(compared), 'environment')}"
            f" ({', '.join(e.env for e in envs)})"
        )
    for status in (ADDED, REMOVED):
        moved = [e.env for e in diff.envs if e.status == status]
        if moved:
            parts.append(f"environment {status}: {', '.join(moved)}")
    counts = (
        (sum(len(e.records) for e in diff.envs), "recording rule change"),
        (sum(len(e.dashboards) for e in diff.envs), "dashboard change"),
        (sum(len(e.routing) for e in diff.envs), "routing change"),
        (sum(len(e.changes) for e in diff.envs), "environment setting change"),
    )
    parts += [_plural(n, word) for n, word in counts if n]
    return "; ".join(parts)


def as_data(diff: ProgramDiff) -> dict[str, Any]:
    """The diff as plain JSON-ready data; every list is sorted or in a fixed order."""

    def change(c: Change) -> dict[str, Any]:
        return {"field": c.field, "old": c.old, "new": c.new, "meaning": c.meaning}

    return {
        "base": diff.base,
        "spec": diff.head,
        "changed": diff.changed,
        "summary": summary(diff),
        "environments": {
            e.env: {
                "status": e.status,
                "changes": [change(c) for c in e.changes],
                "alerts": [
                    {
                        "alert": a.alert,
                        "status": a.status,
                        "changes": [change(c) for c in a.changes],
                        "brief": a.brief,
                        "watches": list(a.watches),
                        "source": a.source,
                        "dashboard": a.dashboard,
                        "runbook": a.runbook,
                    }
                    for a in e.alerts
                ],
                "recording_rules": [
                    {
                        "record": r.record,
                        "status": r.status,
                        "old_name": r.old_name,
                        "old_expr": r.old_expr,
                        "new_expr": r.new_expr,
                        "alerts": list(r.alerts),
                        "panels": list(r.panels),
                    }
                    for r in e.records
                ],
                "dashboards": [
                    {"dashboard": p.dashboard, "panel": p.panel, "field": p.field, "old": p.old, "new": p.new}
                    for p in e.dashboards
                ],
                "routing": [{"part": r.part, "name": r.name, "old": r.old, "new": r.new} for r in e.routing],
            }
            for e in diff.envs
        },
    }


def render_json(diff: ProgramDiff) -> str:
    return json.dumps(as_data(diff), indent=2, sort_keys=True)


def _move(old: str | None, new: str | None) -> str:
    if old is None:
        return f"(none) -> {new}"
    if new is None:
        return f"{old} -> (none)"
    return f"{old} -> {new}"


_MARK = {ADDED: "+", ENABLED: "+", REMOVED: "-", DISABLED: "-", CHANGED: "~", UNCHANGED: "="}


def render_text(diff: ProgramDiff, notes: Notes = Notes()) -> str:
    """Compact lines per environment: one per changed field, alert or rule."""
    lines = [f"rulesgen diff: {diff.base} -> {diff.head}", *notes.head]
    for env in diff.envs:
        if env.status in (ADDED, REMOVED):
            lines.append(f"[{env.env}] environment {env.status}")
            continue
        if not (env.changed or env.alerts):
            continue
        lines.append(f"[{env.env}]")
        for c in env.changes:
            lines.append(f"  ~ environment {c.field}: {_move(c.old, c.new)}")
        for a in env.alerts:
            mark = _MARK[a.status]
            if a.status == UNCHANGED:
                values = "; ".join(f"{c.field} {c.new}" for c in a.changes)
                lines.append(f"  = {a.alert}: unchanged ({values or a.brief})")
            elif a.status == CHANGED:
                for c in a.changes:
                    if c.meaning == UNCHANGED:
                        lines.append(f"  = {a.alert} {c.field}: {c.new} (unchanged)")
                        continue
                    meaning = f" ({c.meaning})" if c.meaning else ""
                    lines.append(f"  ~ {a.alert} {c.field}: {_move(c.old, c.new)}{meaning}")
            else:
                lines.append(f"  {mark} {a.alert}: {a.status} ({a.brief})")
        lines += [f"  > {alert} {sentence}" for alert, sentence in notes.alerts.get(env.env, ())]
        for r in env.records:
            what = f"{r.old_name} -> {r.record}" if r.status == RENAMED else r.record
            readers = ", ".join([*r.alerts, *r.panels])
            lines.append(
                f"  {_MARK.get(r.status, '~')} recording rule {what}: {r.status}"
                + (f", read by {readers}" if readers else "")
            )
        for p in env.dashboards:
            where = f"dashboard {p.dashboard}" + (f", panel {p.panel}" if p.panel else "")
            lines.append(f"  ~ {where} {p.field}: {_move(p.old, p.new)}")
        for rt in env.routing:
            name = f" {rt.name}" if rt.name else ""
            lines.append(f"  ~ {rt.part}{name}: {_move(rt.old, rt.new)}")
    lines.append(summary(diff))
    return "\n".join(lines)


def _cell(text: str | None) -> str:
    """A Markdown table cell: `|` escaped (PromQL regexes have them), code-quoted."""
    if text is None or text == "":
        return "-"
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def _plain(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(diff: ProgramDiff, notes: Notes = Notes()) -> str:
    """A pull-request comment: the summary, a table per environment, details folded."""
    lines = ["### rulesgen diff", "", f"**{summary(diff)}** (`{diff.base}` -> `{diff.head}`)"]
    lines += [line for head in notes.head for line in ("", _plain(head))]
    if not diff.changed:
        return "\n".join(lines) + "\n"
    for env in diff.envs:
        if env.status in (ADDED, REMOVED):
            lines += ["", f"#### {env.env}", "", f"Environment {env.status}."]
            continue
        if not (env.changed or env.alerts):
            continue
        lines += ["", f"#### {env.env}"]
        if env.alerts or env.changes:
            lines += ["", "| alert | field | old | new | meaning |", "|---|---|---|---|---|"]
            for c in env.changes:
                lines.append(f"| (environment) | {_plain(c.field)} | {_cell(c.old)} | {_cell(c.new)} | {c.meaning} |")
            for a in env.alerts:
                if a.status in (CHANGED, UNCHANGED) and a.changes:
                    for c in a.changes:
                        lines.append(
                            f"| {a.alert} | {_plain(c.field)} | {_cell(c.old)} | {_cell(c.new)} | {c.meaning} |"
                        )
                else:
                    old, new = (a.brief, None) if a.status in (REMOVED, DISABLED) else (None, a.brief)
                    lines.append(f"| {a.alert} | {a.status} | {_cell(old)} | {_cell(new)} | |")
        if notes.alerts.get(env.env):
            lines += ["", *(f"- **{alert}** {sentence}" for alert, sentence in notes.alerts[env.env])]
        if env.records:
            lines += ["", "| recording rule | change | read by |", "|---|---|---|"]
            for r in env.records:
                name = f"{_cell(r.old_name)} -> {_cell(r.record)}" if r.status == RENAMED else _cell(r.record)
                lines.append(f"| {name} | {r.status} | {_plain(', '.join([*r.alerts, *r.panels])) or '-'} |")
        if env.dashboards:
            lines += ["", "| dashboard | panel | field | old | new |", "|---|---|---|---|---|"]
            for p in env.dashboards:
                lines.append(
                    f"| {_plain(p.dashboard)} | {_plain(p.panel) or '-'} | {p.field} | {_cell(p.old)} | {_cell(p.new)} |"
                )
        if env.routing:
            lines += ["", "| routing | name | old | new |", "|---|---|---|---|"]
            for rt in env.routing:
                lines.append(f"| {rt.part} | {_plain(rt.name) or '-'} | {_cell(rt.old)} | {_cell(rt.new)} |")
        details = _details(env)
        if details:
            lines += ["", f"<details><summary>Details ({env.env})</summary>", "", *details, "", "</details>"]
    return "\n".join(lines) + "\n"


def _details(env: EnvDiff) -> list[str]:
    out = []
    for a in env.alerts:
        links = [f"[{what}]({url})" for what, url in (("panel", a.dashboard), ("runbook", a.runbook)) if url]
        out.append(f"- **{a.alert}** ({a.status}, `{a.source}`): {a.brief}. {' '.join(links)}".rstrip())
        out += [f"  - fires when: {_cell(w)}" for w in a.watches]
    for r in env.records:
        for label, expr in (("was", r.old_expr), ("now", r.new_expr)):
            if expr:
                out.append(f"- `{r.record}` {label}: {_cell(expr)}")
    return out


# --- the base spec from git ---------------------------------------------------------


GIT_TIMEOUT = 60.0


class BaseNotFound(Exception):
    """The base spec cannot be read: not a git work tree, an unknown ref, or no such
    file at that ref."""


def spec_at_ref(ref: str, spec: Path) -> tuple[str, str]:
    """The text of `spec` as committed at `ref`, and the name errors should carry
    (`HEAD:thresholds.yaml`). Reads the object store only: the work tree is untouched."""
    # A ref that git would read as an option (`--output=PATH`) is refused here, and git
    # is told where options end too: a ref is data.
    if not ref or ref.startswith("-") or any(c in ref for c in "\0\n\r"):
        raise BaseNotFound(f"{ref!r} is not a git ref")
    where = spec.resolve().parent
    try:
        top = children.run(["git", "rev-parse", "--show-toplevel"], GIT_TIMEOUT, cwd=where)
    except OSError as exc:  # no git at all
        raise BaseNotFound(f"cannot run git: {exc}") from None
    if top.returncode != 0:
        raise BaseNotFound(f"{spec} is not in a git work tree: {top.stderr.strip()}")
    relative = spec.resolve().relative_to(Path(top.stdout.strip()).resolve()).as_posix()
    name = f"{ref}:{relative}"
    shown = children.run(
        ["git", "show", "--no-textconv", "--end-of-options", name], GIT_TIMEOUT, cwd=Path(top.stdout.strip())
    )
    if shown.returncode != 0:
        raise BaseNotFound(f"cannot read {relative} at {ref!r}: {shown.stderr.strip() or 'git timed out'}")
    return shown.stdout, name
