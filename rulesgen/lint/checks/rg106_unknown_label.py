"""Matchers and `by` may only name labels the metric declares: a matcher on a label the
series do not carry selects nothing, and grouping by it merges every series."""

from collections.abc import Iterator

from rulesgen.errors import did_you_mean
from rulesgen.lint import ENVIRONMENT, ERROR, Finding, check
from rulesgen.lint.context import EnvContext


@check("RG106", "unknown-label", ERROR, "a matcher or `by` names a label the metric does not have", ENVIRONMENT)
def run(ctx: EnvContext) -> Iterator[Finding]:
    metrics = ctx.doc.header.metrics
    for alert in ctx.alerts:
        by = getattr(alert.model, "by", [])
        for use in alert.model.selectors():
            spec = metrics.get(use.selector.metric)
            if spec is None:
                continue
            for label in use.selector.matchers:
                if label not in spec.labels:
                    message = f"metric {use.selector.metric!r} has no label {label!r}; it has: {', '.join(spec.labels) or 'none'}"
                    hint = did_you_mean(label, spec.labels)
                    yield ctx.selector_finding(alert, use, ("matchers", label), message, hint, key=True)
            for i, label in enumerate(by):
                if label not in spec.labels:
                    path, overridden = alert.where("by")
                    message = f"cannot group by {label!r}: metric {use.selector.metric!r} has no such label"
                    yield Finding(
                        (*path, i),
                        message,
                        did_you_mean(label, spec.labels),
                        ctx.env if overridden else None,
                        False,
                        alert.model.name,
                    )


CHECK = run
