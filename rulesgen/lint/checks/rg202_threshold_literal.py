"""A number written in a summary or description next to "more than", "above", "below"...
must be the threshold of that environment: "More than 10%" on a rule that fires at 25%
misleads whoever is paged. Write `[[ threshold ]]` or `[[ threshold | percent ]]`."""

import re
from collections.abc import Iterator

from rulesgen.lint import PROGRAM, WARNING, Finding, check
from rulesgen.lint.context import EnvContext
from rulesgen.promql import number

_PHRASE = re.compile(
    r"\b(?:more than|less than|above|below|over|under|exceeds?|at least|at most)\s+(\d+(?:\.\d+)?)\s*(%?)", re.I
)


@check("RG202", "threshold-literal", WARNING, "a summary states a threshold other than the rule's", PROGRAM)
def run(ctx: EnvContext) -> Iterator[Finding]:
    for alert, _ in ctx.compiled():
        threshold = getattr(alert.model, "threshold", None)
        if not isinstance(threshold, (int, float)):
            continue
        for field in ("summary", "description"):
            text = getattr(alert.model, field) or ""
            literal = re.sub(r"\[\[.*?\]\]|\{\{.*?\}\}", " ", text)
            for value, percent in _PHRASE.findall(literal):
                said = float(value) / 100 if percent else float(value)
                if abs(said - threshold) > 1e-9:
                    message = f"{field} says {value}{percent} but {alert.model.name} fires at {number(threshold)} in {ctx.env}"
                    yield ctx.finding(alert, field, message, "; write [[ threshold ]] (or [[ threshold | percent ]])")


CHECK = run
