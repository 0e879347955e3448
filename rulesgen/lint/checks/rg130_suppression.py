"""`lint.disable` and an alert's `lint_disable` turn warnings off, each with a reason.
Errors cannot be turned off, and an unknown ID is a typo that disables nothing."""

from collections.abc import Iterator

from rulesgen.errors import Path
from rulesgen.lint import DOCUMENT, ERROR, WARNING, Finding, check, registry
from rulesgen.lint.context import DocContext
from rulesgen.spec.models import Suppression


@check("RG130", "bad-suppression", ERROR, "a suppression names an error or an unknown check", DOCUMENT)
def run(ctx: DocContext) -> Iterator[Finding]:
    lists: list[tuple[Path, list[Suppression]]] = [(("lint", "disable"), ctx.doc.header.lint.disable)]
    lists += [((*ctx.doc.alert_path(a.name), "lint_disable"), a.lint_disable) for a in ctx.doc.alerts]
    checks = registry()
    for at, suppressions in lists:
        for i, suppression in enumerate(suppressions):
            found = checks.get(suppression.check)
            if found is None:
                yield Finding(
                    (*at, i, "check"), f"unknown check {suppression.check!r}; `rulesgen lint --list` lists them"
                )
            elif found.severity != WARNING:
                yield Finding((*at, i, "check"), f"{found.code} ({found.name}) is an error and cannot be disabled")


CHECK = run
