"""An alert's team, as set in each environment, must be declared under `teams`:
routing goes team first, so an unknown team would reach nobody."""

from collections.abc import Iterator

from rulesgen.errors import did_you_mean
from rulesgen.lint import ENVIRONMENT, ERROR, Finding, check
from rulesgen.lint.context import EnvContext


@check("RG102", "unknown-team", ERROR, "an alert names a team that is not declared", ENVIRONMENT)
def run(ctx: EnvContext) -> Iterator[Finding]:
    teams = ctx.doc.header.teams
    for alert in ctx.alerts:
        team = alert.model.team
        if team not in teams:
            message = f"unknown team {team!r}; declared: {', '.join(teams)}"
            yield ctx.finding(alert, "team", message, did_you_mean(team, teams))


CHECK = run
