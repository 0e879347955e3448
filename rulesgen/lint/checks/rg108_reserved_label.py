"""`alertname`, `severity`, `team` and `env` are set by rulesgen from the alert itself;
an alert's own `labels` may not set them, or routing would disagree with the spec."""

from collections.abc import Iterator

from rulesgen.lint import ENVIRONMENT, ERROR, Finding, check
from rulesgen.lint.context import EnvContext

RESERVED_LABELS = frozenset({"alertname", "severity", "team", "env"})


@check("RG108", "reserved-label", ERROR, "an alert sets a label rulesgen owns", ENVIRONMENT)
def run(ctx: EnvContext) -> Iterator[Finding]:
    for alert in ctx.alerts:
        for key in alert.model.labels:
            if key in RESERVED_LABELS:
                path, overridden = alert.where("labels")
                yield Finding(
                    (*path, key),
                    f"label {key!r} is set by rulesgen",
                    "",
                    ctx.env if overridden else None,
                    True,
                    alert.model.name,
                )


CHECK = run
