"""`{set: NAME}` must name a declared label set holding values of that same label."""

from collections.abc import Iterator

from rulesgen.lint import ENVIRONMENT, ERROR, Finding, check
from rulesgen.lint.context import EnvContext
from rulesgen.spec.models import SetRef


@check(
    "RG107", "unknown-label-set", ERROR, "a matcher names an unknown label set, or one of another label", ENVIRONMENT
)
def run(ctx: EnvContext) -> Iterator[Finding]:
    sets = ctx.doc.header.label_sets
    for alert in ctx.alerts:
        for use in alert.model.selectors():
            for label, value in use.selector.matchers.items():
                if not isinstance(value, SetRef):
                    continue
                path, overridden = alert.where(str(use.path[0]) if use.path else "matchers")
                where = (*path, "matchers", label, "set") if use.path else (*path, label, "set")
                env = ctx.env if overridden else None
                found = sets.get(value.set)
                if found is None:
                    yield Finding(where, f"unknown label set {value.set!r}", "", env, False, alert.model.name)
                elif found.label != label:
                    message = f"label set {value.set!r} holds values of {found.label!r}, not {label!r}"
                    yield Finding(where, message, "", env, False, alert.model.name)


CHECK = run
