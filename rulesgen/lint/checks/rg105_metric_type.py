"""Each kind reads metrics of given types: an increase of a gauge or a quantile of a
counter is meaningless PromQL that still evaluates."""

from collections.abc import Iterator

from rulesgen.lint import ENVIRONMENT, ERROR, Finding, check
from rulesgen.lint.context import EnvContext


@check("RG105", "metric-type", ERROR, "an alert reads a metric of the wrong type for its kind", ENVIRONMENT)
def run(ctx: EnvContext) -> Iterator[Finding]:
    metrics = ctx.doc.header.metrics
    for alert in ctx.alerts:
        for use in alert.model.selectors():
            spec = metrics.get(use.selector.metric)
            if spec is not None and spec.type not in use.types:
                wanted = " or ".join(sorted(t.value for t in use.types))
                message = f"{alert.model.kind} needs a {wanted} but {use.selector.metric!r} is a {spec.type.value}"
                yield ctx.selector_finding(alert, use, ("metric",), message)


CHECK = run
