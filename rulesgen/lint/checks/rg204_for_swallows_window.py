"""An alert on the increase over a window needs the condition true for `for`: with `for`
as long as the window or longer, a burst shorter than the window (all its events
inside one window) leaves the increase high for less than `for`, so it never notifies."""

from collections.abc import Iterator

from rulesgen.ir import compares
from rulesgen.lint import PROGRAM, WARNING, Finding, check
from rulesgen.lint.context import EnvContext


@check("RG204", "for-swallows-window", WARNING, "`for` is as long as the increase window or longer", PROGRAM)
def run(ctx: EnvContext) -> Iterator[Finding]:
    for alert, compiled in ctx.compiled():
        for rule in compiled.rules:
            for leaf in compares(rule.condition):
                window = leaf.quantity.window
                if leaf.quantity.function == "increase" and window is not None and rule.for_.ms >= window.ms:
                    message = f"for {rule.for_} is not shorter than the {window} window: a burst shorter than the window never notifies"
                    yield ctx.finding(alert, "for", message)


CHECK = run
