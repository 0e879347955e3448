"""Inhibit rules must name labels some alert carries and alerts that exist, and each
side must match at least one alert rule: a rule that matches nothing mutes nothing,
which is never what its author meant."""

from collections.abc import Iterator

from rulesgen.lint import ERROR, PROGRAM, Finding, check
from rulesgen.lint.context import EnvContext


@check("RG110", "inhibit-rule", ERROR, "an inhibit rule names unknown labels or alerts, or matches no alert", PROGRAM)
def run(ctx: EnvContext) -> Iterator[Finding]:
    assert ctx.ir is not None
    known = {"alertname"}
    static: list[dict[str, str]] = []  # what is known of each alert rule's labels before it fires
    for alert in ctx.ir.alerts:
        known |= set(alert.result_labels)
        for rule in alert.rules:
            known |= {k for k, _ in rule.labels}
            static.append({"alertname": rule.alert, **dict(rule.labels)})
    names = {a.name for a in ctx.doc.alerts}
    for i, inhibit in enumerate(ctx.doc.header.alertmanager.inhibit_rules):
        at = ("alertmanager", "inhibit_rules", i)
        for side in ("source", "target"):
            matchers: dict[str, str] = getattr(inhibit, side)
            for label, value in matchers.items():
                if label not in known:
                    yield Finding((*at, side, label), f"no alert carries label {label!r}", key=True)
                elif label == "alertname" and value not in names:
                    yield Finding((*at, side, label), f"unknown alert {value!r}")
            if not any(all(s.get(k, v) == v for k, v in matchers.items()) for s in static):
                yield Finding((*at, side), f"inhibit rule {inhibit.name!r}: no alert in {ctx.env} matches its {side}")
        for j, label in enumerate(inhibit.equal):
            if label not in known:
                yield Finding((*at, "equal", j), f"no alert carries label {label!r}")


CHECK = run
