"""A condition that no data can satisfy: a ratio compared above 1 or below 0 (a
burn-rate tier whose factor times the error budget exceeds 1 is one). Such an alert
passes every review and never pages."""

from collections.abc import Iterator

from rulesgen.ir import compares, param_path
from rulesgen.lint import ERROR, PROGRAM, Finding, check
from rulesgen.lint.context import EnvContext
from rulesgen.promql import number


@check("RG209", "never-fires", ERROR, "a condition no data can satisfy", PROGRAM)
def run(ctx: EnvContext) -> Iterator[Finding]:
    for alert, compiled in ctx.compiled():
        for rule in compiled.rules:
            for leaf in compares(rule.condition):
                if leaf.quantity.unit != "ratio":
                    continue
                if (leaf.op in (">", ">=") and leaf.value >= 1) or (leaf.op in ("<", "<=") and leaf.value <= 0):
                    field, *rest = param_path(leaf.param)
                    found = ctx.finding(
                        alert,
                        str(field),
                        f"can never fire: a ratio is never {leaf.op} {number(round(leaf.value, 12))} ({leaf.quantity.what})",
                    )
                    yield Finding((*found.path, *rest), found.message, found.hint, found.env, False, found.alert)


CHECK = run
