"""Each environment and team gives one PrometheusRule object, `rulesgen-<env>-<team>`
with `_` turned into `-`: two pairs that give one name (`billing_ops` and `billing-ops`,
or environment `eu` with team `a-b` and environment `eu-a` with team `b`) would
overwrite each other in the cluster."""

from collections.abc import Iterator

from rulesgen import conventions
from rulesgen.lint import DOCUMENT, ERROR, Finding, check
from rulesgen.lint.context import DocContext
from rulesgen.targets.kubernetes import dns_name


@check("RG111", "kubernetes-name-clash", ERROR, "two environment and team pairs give one Kubernetes name", DOCUMENT)
def run(ctx: DocContext) -> Iterator[Finding]:
    header = ctx.doc.header
    seen: dict[str, tuple[str, str]] = {}
    for env in header.environments:
        for team in header.teams:
            name = dns_name(conventions.GENERATOR, env, team)
            if name in seen and seen[name] != (env, team):
                other_env, other_team = seen[name]
                message = (
                    f"environment {env!r} and team {team!r} give the Kubernetes name {name!r}, "
                    f"as environment {other_env!r} and team {other_team!r} do"
                )
                yield Finding(("teams", team), message, key=True)
            seen.setdefault(name, (env, team))


CHECK = run
