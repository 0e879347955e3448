"""Alerts may only read metrics declared under `metrics`, so that labels and types can
be checked and a typo in a metric name does not make an alert that never fires."""

from collections.abc import Iterator

from rulesgen.errors import did_you_mean
from rulesgen.lint import ENVIRONMENT, ERROR, Finding, check
from rulesgen.lint.context import EnvContext


@check("RG104", "unknown-metric", ERROR, "an alert reads a metric that is not declared", ENVIRONMENT)
def run(ctx: EnvContext) -> Iterator[Finding]:
    metrics = ctx.doc.header.metrics
    for alert in ctx.alerts:
        for use in alert.model.selectors():
            metric = use.selector.metric
            if metric not in metrics:
                message = f"unknown metric {metric!r}; declare it under metrics"
                yield ctx.selector_finding(alert, use, ("metric",), message, did_you_mean(metric, metrics))


CHECK = run
