"""A paging alert reads a metric that no absence guard watches: when the worker exporting
one of its scopes dies, or a deploy renames the metric, the alert goes silent and
nothing says so (an `absent` alert of the whole metric does not notice one mainnet gone
while the others and the testnets remain).

rulesgen adds a guard per scope for each metric the catalog declares `always_present`.
A metric whose series appear only with their first event (a failure counter that a
client library creates on the first failure) cannot be guarded without paging on every
deploy: suppress this check on the alert with the reason, saying what covers it instead."""

from collections.abc import Iterator

from rulesgen.lint import ENVIRONMENT, WARNING, Finding, check
from rulesgen.lint.context import EnvContext


@check("RG211", "unguarded-page", WARNING, "a paging alert reads a metric no absence guard watches", ENVIRONMENT)
def run(ctx: EnvContext) -> Iterator[Finding]:
    header = ctx.doc.header
    for alert in ctx.alerts:
        model = alert.model
        if not header.pages(model.severity) or model.invariants.no_data_fires:
            continue
        seen: set[str] = set()
        for use in model.selectors():
            metric = use.selector.metric
            declared = header.metrics.get(metric)
            if metric in seen or declared is None or declared.always_present:
                continue
            seen.add(metric)
            yield ctx.selector_finding(
                alert,
                use,
                ("metric",),
                f"pages on {metric}, which no absence guard watches: a dead exporter or a renamed "
                "metric leaves the alert silent",
                hint=(
                    f"; set metrics.{metric}.always_present: true if its exporter exports every series "
                    "the alert selects from the start, or suppress RG211 on the alert saying what covers it"
                ),
            )


CHECK = run
