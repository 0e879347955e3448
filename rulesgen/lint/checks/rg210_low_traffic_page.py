"""A paging ratio that one event can trip: at low traffic a single failure is a large
share (one failure among 3 transactions an hour is 33%, over a 14.4x burn rate of a 99%
objective and over a 10% failure-ratio threshold). `min_events` gives the ratio a floor
of events in its window; without one, whoever is paged at night for one failed
transaction learns to ignore the alert."""

import math
from collections.abc import Iterator

from rulesgen.ir import compares
from rulesgen.lint import PROGRAM, WARNING, Finding, check
from rulesgen.lint.context import EnvContext
from rulesgen.promql import number


@check("RG210", "low-traffic-page", WARNING, "one event can page a ratio (set min_events)", PROGRAM)
def run(ctx: EnvContext) -> Iterator[Finding]:
    for alert, compiled in ctx.compiled():
        for rule in compiled.rules:
            if not ctx.doc.header.pages(rule.severity):
                continue
            leaves = compares(rule.condition)
            floor = max((leaf.value for leaf in leaves if leaf.param == "min_events"), default=1.0)
            for leaf in leaves:
                if leaf.quantity.unit != "ratio" or leaf.op not in (">", ">=") or leaf.value <= 0:
                    continue
                needed = math.ceil(1 / leaf.value)  # 1/needed is no longer over the limit
                if floor < needed:
                    yield ctx.finding(
                        alert,
                        "min_events" if "min_events" in type(alert.model).model_fields else "kind",
                        f"one event among fewer than {needed} in {leaf.quantity.window} pages "
                        f"({leaf.quantity.what} > {number(round(leaf.value, 12))}): "
                        f"set min_events to {needed} or more",
                    )
                    break


CHECK = run
