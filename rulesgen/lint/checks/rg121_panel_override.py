"""`settings.dashboards.panel_overrides` is keyed by alert name; an unknown name is a
typo that would silently leave the panel as it was."""

from collections.abc import Iterator

from rulesgen.errors import did_you_mean
from rulesgen.lint import DOCUMENT, ERROR, Finding, check
from rulesgen.lint.context import DocContext


@check("RG121", "unknown-panel-override", ERROR, "a panel override names an unknown alert", DOCUMENT)
def run(ctx: DocContext) -> Iterator[Finding]:
    names = [a.name for a in ctx.doc.alerts]
    for name in ctx.doc.header.settings.dashboards.panel_overrides:
        if name not in names:
            at = ("settings", "dashboards", "panel_overrides", name)
            yield Finding(at, f"unknown alert {name!r}", did_you_mean(name, names), key=True)


CHECK = run
