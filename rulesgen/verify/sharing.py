"""Environments that share a promtool run: a test file of environment B whose alert's
rule closure and test are environment A's but for the alerting rules' static labels and
annotations (env, cluster, links) is judged by A's run and a check of B's static part.

Why that is sound. Prometheus builds an alert's labels from the sample's labels with
the rule's labels set over them, and expands templates (`{{ $labels.x }}`) from the
sample's labels and the test's external labels only, never from the rule's labels. So
when everything but the static (template-free) values is equal, B's rules fire at the
same times on the same samples as A's, and every alert B gets is the alert A gets with
the static substitution applied: each key whose value differs is set to B's value (the
same in all of the closure's alerting rules of each environment), or, for an
annotation, removed. promtool compares expected with got alerts case by case as sorted
lists. Given that A's run passed (got == expected in A), B's run passes exactly when
each of B's expected lists equals A's expected list with the substitution applied; the
cases where it does not are the scenarios B's own run would fail.

Where that reasoning has a gap, B runs promtool itself: A failed (its expectations are
then not what A got); the substitution is not one value per key (two alerting rules of
the alert differ in it) or B drops or empties a label (the sample's own label then shows
through); an expression or a PromQL test reads `ALERTS` (whose series carry the rule
labels); or the substitution makes two expected alerts of a case equal (Prometheus
refuses such a rule at evaluation)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rulesgen.verify.closure import ClosureGroup

_FIELDS = ("labels", "annotations")
_EXP_FIELDS = {"labels": "exp_labels", "annotations": "exp_annotations"}


def _text(value: Any) -> str:
    """A YAML scalar as promtool (Go) reads it into a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _static(values: Mapping[str, Any] | None) -> dict[str, str]:
    return {k: _text(v) for k, v in (values or {}).items() if "{{" not in _text(v)}


def _alerting(closure: Iterable[ClosureGroup]) -> list[dict[str, Any]]:
    return [rule for group in closure for rule in group.rules if "alert" in rule]


def _bare_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """An alerting rule without its static labels and annotations."""
    if "alert" not in rule:
        return dict(rule)
    bare = dict(rule)
    for part in _FIELDS:
        if part in rule:
            bare[part] = {k: _text(v) for k, v in (rule[part] or {}).items() if "{{" in _text(v)}
    return bare


def _bare_doc(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A test document without its expected alerts' labels and annotations (the exact
    check compares those), keeping how many alerts each case expects."""
    return {
        **doc,
        "tests": [
            {
                **test,
                "alert_rule_test": [
                    {**case, "exp_alerts": len(case.get("exp_alerts") or [])}
                    for case in test.get("alert_rule_test") or []
                ],
            }
            for test in doc.get("tests") or []
        ],
    }


def signature(closure: Sequence[ClosureGroup], doc: Mapping[str, Any]) -> str:
    """What decides a test file's promtool run but for static labels and annotations:
    two files with the same signature are candidates to share a run."""
    rules = [[g.name, g.interval, [_bare_rule(r) for r in g.rules]] for g in closure]
    text = json.dumps([rules, _bare_doc(doc)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Substitution:
    """How B's alerts follow from A's: per part (labels, annotations), the keys set to
    B's value (None: removed)."""

    labels: dict[str, str | None]
    annotations: dict[str, str | None]

    def apply(self, alert: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
        """A's expected alert as B must get it: (labels, annotations)."""
        out: list[dict[str, str]] = []
        for part, changes in (("labels", self.labels), ("annotations", self.annotations)):
            values = {k: _text(v) for k, v in (alert.get(_EXP_FIELDS[part]) or {}).items()}
            for key, value in changes.items():
                if value is None:
                    values.pop(key, None)
                else:
                    values[key] = value
            out.append(values)
        return out[0], out[1]


def _reads_alerts(closure: Iterable[ClosureGroup]) -> bool:
    """Whether an expression may read `ALERTS` or `ALERTS_FOR_STATE`: by the text, so a
    regex on `__name__` or an expression that does not parse counts as reading them."""
    exprs = [str(rule.get("expr", "")) for g in closure for rule in g.rules]
    return any("ALERTS" in e or "__name__" in e for e in exprs)


def substitution(mine: Sequence[ClosureGroup], theirs: Sequence[ClosureGroup]) -> Substitution | None:
    """The substitution turning `theirs` (A's closure) into `mine` (B's), or None when
    B's alerts do not follow from A's by one (see the module's docstring)."""
    a_rules, b_rules = _alerting(theirs), _alerting(mine)
    if len(a_rules) != len(b_rules) or not a_rules or _reads_alerts(mine) or _reads_alerts(theirs):
        return None
    parts: dict[str, dict[str, str | None]] = {}
    for part in _FIELDS:
        a_static = [_static(r.get(part)) for r in a_rules]
        b_static = [_static(r.get(part)) for r in b_rules]
        keys = {k for a, b in zip(a_static, b_static, strict=True) for k in {*a, *b} if a.get(k) != b.get(k)}
        changes: dict[str, str | None] = {}
        for key in sorted(keys):
            a_values = {a.get(key) for a in a_static}
            b_values = {b.get(key) for b in b_static}
            if len(a_values) != 1 or len(b_values) != 1:
                return None  # the alert's rules disagree on it: which rule fired matters
            (value,) = b_values
            if not value and part == "labels":
                return None  # dropped or set empty: the sample's own label shows through, not A's
            if value == "":
                return None  # an empty annotation: whether promtool shows it is not A's business
            changes[key] = value
        parts[part] = changes
    return Substitution(parts["labels"], parts["annotations"])


def _canonical(alerts: Iterable[tuple[dict[str, str], dict[str, str]]]) -> list[str]:
    """Alerts as promtool prints them, sorted: equal lists are equal alerts."""

    def braces(values: Mapping[str, str]) -> str:
        return "{" + ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(values.items())) + "}"

    return sorted(f"labels:{braces(labels)} annotations:{braces(notes)}" for labels, notes in alerts)


def _expected(case: Mapping[str, Any]) -> list[tuple[dict[str, str], dict[str, str]]]:
    return [
        (
            {k: _text(v) for k, v in (e.get("exp_labels") or {}).items()},
            {k: _text(v) for k, v in (e.get("exp_annotations") or {}).items()},
        )
        for e in case.get("exp_alerts") or []
    ]


def _queries_alerts(doc: Mapping[str, Any]) -> bool:
    """Whether a PromQL test of the file may read the alerts' series, whose labels are
    the rules' (by the text, as for rules)."""
    exprs = [str(t.get("expr", "")) for test in doc.get("tests") or [] for t in test.get("promql_expr_test") or []]
    return any("ALERTS" in e or "__name__" in e for e in exprs)


@dataclass
class StaticCheck:
    """The verdict of B's static part: scenarios whose expectations B's rules do not
    meet, and why, in promtool's terms (expected vs got)."""

    failed: list[str]
    output: str


def check_static(mine: Mapping[str, Any], theirs: Mapping[str, Any], sub: Substitution) -> StaticCheck | None:
    """B's test (`mine`) against A's (`theirs`, whose run passed) under `sub`, or None
    when the substitution merges two alerts of a case (B must run promtool itself)."""
    if _queries_alerts(mine) or _queries_alerts(theirs):
        return None
    failed: list[str] = []
    lines: list[str] = []
    for a_test, b_test in zip(theirs.get("tests") or [], mine.get("tests") or [], strict=True):
        name = str(b_test.get("name", ""))
        for a_case, b_case in zip(
            a_test.get("alert_rule_test") or [], b_test.get("alert_rule_test") or [], strict=True
        ):
            got = [sub.apply(e) for e in a_case.get("exp_alerts") or []]
            want = _canonical(_expected(b_case))
            if len(set(_canonical(got))) != len(got):
                return None
            if _canonical(got) != want:
                if name not in failed:
                    failed.append(name)
                lines.append(
                    f"  name: {name},\n    alertname: {b_case.get('alertname')}, time: {b_case.get('eval_time')},\n"
                    f"        exp:[{'; '.join(want)}],\n        got:[{'; '.join(_canonical(got))}]"
                )
    return StaticCheck(sorted({n.split("/", 1)[-1] for n in failed}), "\n".join(lines))
