"""Every severity routes, in every environment, to a receiver role each team declares;
receiver names are unique; environment routing names known severities. Otherwise an
alert would be routed to a receiver Alertmanager does not have."""

from collections.abc import Iterator

from rulesgen import conventions
from rulesgen.lint import ENVIRONMENT, ERROR, Finding, check
from rulesgen.lint.context import EnvContext
from rulesgen.lower.routing import role_for


@check("RG109", "routing", ERROR, "a severity routes to a receiver a team does not declare", ENVIRONMENT)
def run(ctx: EnvContext) -> Iterator[Finding]:
    header = ctx.doc.header
    env_routing = header.environments[ctx.env].routing
    for severity in env_routing:
        if severity not in header.severities:
            yield Finding(("environments", ctx.env, "routing", severity), f"unknown severity {severity!r}", key=True)
    names: dict[str, str] = {}
    for team, team_spec in header.teams.items():
        for role in team_spec.receivers:
            name = conventions.receiver_name(team, role)
            if names.get(name, team) != team:
                yield Finding(("teams", team, "receivers", role), f"duplicate receiver name {name!r}", key=True)
            names[name] = team
        for severity in header.severities:
            routed = role_for(ctx.doc, ctx.env, severity)
            if routed is None or routed in team_spec.receivers:
                continue
            overridden = severity in env_routing
            where = (
                ("environments", ctx.env, "routing", severity) if overridden else ("severities", severity, "route_to")
            )
            message = (
                f"{severity} alerts route to receiver {routed!r}, which team {team!r} does not declare "
                f"(it has: {', '.join(team_spec.receivers) or 'none'})"
            )
            yield Finding(where, message, env=ctx.env if overridden else None)


CHECK = run
