"""Alert names must be unique: Prometheus would load both rules under one name, and
overrides, tests and dashboard panels are keyed by it."""

from collections.abc import Iterator

from rulesgen.lint import DOCUMENT, ERROR, Finding, check
from rulesgen.lint.context import DocContext


@check("RG101", "duplicate-alert", ERROR, "two alerts have the same name", DOCUMENT)
def run(ctx: DocContext) -> Iterator[Finding]:
    first: dict[str, int] = {}
    for index, alert in enumerate(ctx.doc.alerts):
        if alert.name in first:
            line, _ = ctx.doc.positions.of(("alerts", first[alert.name], "name"))
            yield Finding(("alerts", index, "name"), f"duplicate alert name {alert.name!r} (first at line {line})")
        else:
            first[alert.name] = index


CHECK = run
