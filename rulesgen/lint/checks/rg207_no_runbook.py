"""Whoever is paged needs to know what to do: every alert should link a runbook, its
own `runbook_url` or one under `settings.runbook_base_url`."""

from collections.abc import Iterator

from rulesgen.lint import PROGRAM, WARNING, Finding, check
from rulesgen.lint.context import EnvContext


@check("RG207", "no-runbook", WARNING, "an alert has no runbook", PROGRAM)
def run(ctx: EnvContext) -> Iterator[Finding]:
    for alert, compiled in ctx.compiled():
        if compiled.runbook_url is None:
            yield ctx.finding(alert, "name", f"{compiled.name} has no runbook_url and settings has no runbook_base_url")


CHECK = run
