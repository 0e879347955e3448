"""Every alert should link the dashboard panel that plots what it compares, with its
threshold drawn; that needs `settings.grafana_base_url`."""

from collections.abc import Iterator

from rulesgen.lint import PROGRAM, WARNING, Finding, check
from rulesgen.lint.context import EnvContext


@check("RG208", "no-dashboard-panel", WARNING, "an alert has no dashboard panel link", PROGRAM)
def run(ctx: EnvContext) -> Iterator[Finding]:
    for alert, compiled in ctx.compiled():
        if compiled.panel is None:
            yield ctx.finding(alert, "name", f"{compiled.name} has no dashboard panel: set settings.grafana_base_url")


CHECK = run
