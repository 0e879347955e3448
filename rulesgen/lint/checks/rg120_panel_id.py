"""Each alert's panel id on the overview dashboard derives from its name, so links
never move; two names that hash to the same id must be told apart by renaming one."""

from collections.abc import Iterator

from rulesgen import conventions
from rulesgen.lint import DOCUMENT, ERROR, Finding, check
from rulesgen.lint.context import DocContext


@check("RG120", "panel-id-collision", ERROR, "two alert names map to the same dashboard panel id", DOCUMENT)
def run(ctx: DocContext) -> Iterator[Finding]:
    owners: dict[int, str] = {}
    for alert in ctx.doc.alerts:
        panel = conventions.alert_panel_id(alert.name)
        if panel in owners and owners[panel] != alert.name:
            message = f"alert name hashes to the same dashboard panel id as {owners[panel]}; rename one"
            yield Finding((*ctx.doc.alert_path(alert.name), "name"), message)
        owners[panel] = alert.name


CHECK = run
