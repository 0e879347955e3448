"""A regex matcher that matches the empty string also selects series without the
label at all, which is rarely meant: `network=~"polygon|"` counts unlabelled series."""

from collections.abc import Iterator

from rulesgen.lint import PROGRAM, WARNING, Finding, check
from rulesgen.lint.context import EnvContext


@check("RG206", "regex-matches-empty", WARNING, "a regex matcher matches the empty string", PROGRAM)
def run(ctx: EnvContext) -> Iterator[Finding]:
    for alert, compiled in ctx.compiled():
        for read in compiled.reads:
            for m in read.matchers:
                if not m.negate and len(m.values) > 1 and "" in m.values:
                    message = f"matcher {m.render()} on {read.metric} also selects series without {m.label!r}"
                    yield ctx.finding(alert, "matchers", message)


CHECK = run
