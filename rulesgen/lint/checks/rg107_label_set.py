"""`{set: NAME}` (and `{not_set: NAME}`) must name a declared label set holding values of that same label."""

from collections.abc import Iterator

from rulesgen.lint import ENVIRONMENT, ERROR, Finding, check
from rulesgen.lint.context import EnvContext
from rulesgen.spec.models import NotSetRef, SetRef


@check(
    "RG107", "unknown-label-set", ERROR, "a matcher names an unknown label set, or one of another label", ENVIRONMENT
)
def run(ctx: EnvContext) -> Iterator[Finding]:
    sets = ctx.doc.header.label_sets
    for alert in ctx.alerts:
        for use in alert.model.selectors():
            for label, value in use.selector.matchers.items():
                if isinstance(value, SetRef):
                    name, at = value.set, ("matchers", label, "set")
                elif isinstance(value, NotSetRef):
                    name, at = value.not_set, ("matchers", label, "not_set")
                else:
                    continue
                found = sets.get(name)
                if found is None:
                    yield ctx.selector_finding(alert, use, at, f"unknown label set {name!r}")
                elif found.label != label:
                    message = f"label set {name!r} holds values of {found.label!r}, not {label!r}"
                    yield ctx.selector_finding(alert, use, at, message)


CHECK = run
