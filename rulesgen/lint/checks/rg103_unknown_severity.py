"""Every severity an alert uses, as set in each environment, must be declared under
`severities`, which say where each severity is routed."""

from collections.abc import Iterator

from rulesgen.errors import did_you_mean
from rulesgen.lint import ENVIRONMENT, ERROR, Finding, check
from rulesgen.lint.context import EnvContext


@check("RG103", "unknown-severity", ERROR, "an alert uses a severity that is not declared", ENVIRONMENT)
def run(ctx: EnvContext) -> Iterator[Finding]:
    severities = ctx.doc.header.severities
    for alert in ctx.alerts:
        for path, severity in alert.model.referenced_severities():
            if severity not in severities:
                message = f"unknown severity {severity!r}; declared: {', '.join(severities)}"
                yield ctx.finding(alert, str(path[0]), message, did_you_mean(severity, severities))


CHECK = run
