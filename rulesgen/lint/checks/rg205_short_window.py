"""`rate` and `increase` need at least two samples in their window, and a window of
fewer than four evaluation (and scrape) intervals makes them jump with every missed
scrape: the Prometheus documentation recommends at least four."""

from collections.abc import Iterator

from rulesgen.ir import compares
from rulesgen.lint import PROGRAM, WARNING, Finding, check
from rulesgen.lint.context import EnvContext


@check("RG205", "short-window", WARNING, "a rate window is shorter than four evaluation intervals", PROGRAM)
def run(ctx: EnvContext) -> Iterator[Finding]:
    interval = ctx.doc.header.settings.evaluation_interval
    for alert, compiled in ctx.compiled():
        windows = {leaf.quantity.window for rule in compiled.rules for leaf in compares(rule.condition)}
        for window in sorted(w for w in windows if w is not None and w.ms < 4 * interval.ms):
            field = "window" if "window" in type(alert.model).model_fields else "kind"
            yield ctx.finding(alert, field, f"window {window} is shorter than 4 x the {interval} evaluation interval")


CHECK = run
