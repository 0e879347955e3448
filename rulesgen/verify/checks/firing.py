"""Which alerts fire now (`/api/v1/alerts`), and which are close: for an alert whose
expression is a simple comparison (`quantity > 20`), the quantity is queried now and
each series within `near` (10%) of the threshold, on the silent side, is reported."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from rulesgen.model.comparisons import OPS
from rulesgen.verify.context import Context
from rulesgen.verify.deployed import Rule
from rulesgen.verify.findings import Finding
from rulesgen.verify.selectors import BadExpression, simple_comparison


def _labels(labels: Mapping[str, str], static: Mapping[str, str] = {}) -> str:
    shown = {k: v for k, v in labels.items() if k not in static and k not in ("alertname", "__name__")}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(shown.items())) + "}" if shown else ""


def _rules(ctx: Context) -> dict[str, Rule]:
    out: dict[str, Rule] = {}
    for rule in ctx.deployed.rules:
        if rule.alerting:
            out.setdefault(rule.name, rule)
    return out


def check_firing(ctx: Context) -> Iterator[Finding]:
    rules = _rules(ctx)
    for alert in ctx.prometheus.alerts():
        labels = alert.get("labels") or {}
        name = str(labels.get("alertname", ""))
        if name not in rules:
            continue
        rule = rules[name]
        state = alert.get("state", "")
        since = f" since {alert['activeAt']}" if alert.get("activeAt") else ""
        yield Finding(
            rule.place,
            "RG320",
            f"{name}{_labels(labels, rule.labels)} is {state}{since} (value {alert.get('value')})",
            name,
            ctx.deployed.spec_place(name),
        )


def check_near(ctx: Context) -> Iterator[Finding]:
    assessed: set[str] = set()
    near: set[str] = set()
    for rule in ctx.deployed.rules:
        if not rule.alerting:
            continue
        try:
            comparison = simple_comparison(rule.expr)
        except BadExpression:
            continue
        if comparison is None or comparison.op not in OPS or comparison.op in ("==", "!="):
            continue
        assessed.add(rule.name)
        fires = OPS[comparison.op]
        margin = ctx.near * abs(comparison.threshold)
        if margin == 0:
            # `> 0`: any event fires it, and 0 is the healthy state, not a close call.
            continue
        for sample in ctx.prometheus.query(comparison.left):
            if fires(sample.value, comparison.threshold) or abs(sample.value - comparison.threshold) > margin:
                continue
            near.add(rule.name)
            yield Finding(
                rule.place,
                "RG321",
                f"{rule.name}{_labels(sample.labels)} is at {sample.value:g}, within {ctx.near:.0%} of firing "
                f"({comparison.op} {comparison.threshold:g})",
                rule.name,
                ctx.deployed.spec_place(rule.name),
            )
    total = len({r.name for r in ctx.deployed.rules if r.alerting})
    ctx.notes.append(
        f"{len(near)} of {len(assessed)} alerts with a simple threshold are within {ctx.near:.0%} of firing "
        f"({total - len(assessed)} of {total} alerts have compound conditions and were not assessed)"
    )
