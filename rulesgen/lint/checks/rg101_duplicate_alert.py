"""Alert names must be unique, ignoring case: Prometheus would load both rules under one
name, overrides, tests and dashboard panels are keyed by it, and `TxFailing` and
`TXFailing` would share a test file on a case-insensitive file system (macOS, Windows)."""

from collections.abc import Iterator

from rulesgen.lint import DOCUMENT, ERROR, Finding, check
from rulesgen.lint.context import DocContext


@check("RG101", "duplicate-alert", ERROR, "two alerts have the same name (ignoring case)", DOCUMENT)
def run(ctx: DocContext) -> Iterator[Finding]:
    first: dict[str, int] = {}
    for index, alert in enumerate(ctx.doc.alerts):
        folded = alert.name.casefold()
        if folded not in first:
            first[folded] = index
            continue
        earlier = ctx.doc.alerts[first[folded]].name
        line, _ = ctx.doc.positions.of(("alerts", first[folded], "name"))
        if earlier == alert.name:
            yield Finding(("alerts", index, "name"), f"duplicate alert name {alert.name!r} (first at line {line})")
        else:
            message = f"alert name {alert.name!r} differs from {earlier!r} (line {line}) only in case"
            yield Finding(("alerts", index, "name"), message)


CHECK = run
