"""A `for` shorter than the evaluation interval acts like one interval: the alert
fires at the first evaluation after it goes pending, whatever `for` says."""

from collections.abc import Iterator

from rulesgen.lint import PROGRAM, WARNING, Finding, check
from rulesgen.lint.context import EnvContext


@check("RG203", "for-below-interval", WARNING, "`for` is shorter than the evaluation interval", PROGRAM)
def run(ctx: EnvContext) -> Iterator[Finding]:
    interval = ctx.doc.header.settings.evaluation_interval
    for alert, compiled in ctx.compiled():
        if 0 < compiled.for_.ms < interval.ms:
            yield ctx.finding(alert, "for", f"for {compiled.for_} is shorter than the evaluation interval {interval}")


CHECK = run
