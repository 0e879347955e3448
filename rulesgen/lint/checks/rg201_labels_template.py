"""An annotation may only read `$labels.X` for labels the alert expression returns.
Prometheus does not show rule-level labels (severity, team, a burn-rate tier's windows)
to annotation templates, so such a template renders empty when the alert fires."""

import re
from collections.abc import Iterator

from rulesgen.lint import ERROR, PROGRAM, Finding, check
from rulesgen.lint.context import EnvContext

_LABELS = re.compile(r"\{\{[^}]*\$labels\.([A-Za-z_]\w*)")


@check(
    "RG201", "labels-not-returned", ERROR, "an annotation reads a label the alert expression does not return", PROGRAM
)
def run(ctx: EnvContext) -> Iterator[Finding]:
    for alert, compiled in ctx.compiled():
        returned = set(compiled.result_labels)
        templates = {"summary": alert.model.summary, "description": alert.model.description or ""}
        for rule in compiled.rules:
            for field, text in rule.annotations:
                for label in _LABELS.findall(text):
                    if label not in returned:
                        has = ", ".join(sorted(returned)) or "none"
                        message = (
                            f"{field} reads $labels.{label}, which the alert's results do not carry (they have: {has})"
                        )
                        yield ctx.finding(alert, field if templates.get(field) else "summary", message)


CHECK = run
