"""vmalert (VictoriaMetrics): rule files `<env>/vmalert/<team>.rules.yml`.

vmalert reads the Prometheus rule format, with a few group fields of its own. The rules
are exactly the plain Prometheus ones; each group also states `type: "prometheus"` (the
expressions are PromQL, which MetricsQL accepts), so a vmalert started with another
default rule type still reads them as PromQL, and optionally `concurrency`, how many of
the group's rules vmalert evaluates at once.

The annotation templates use only functions vmalert also provides (`humanize`,
`humanizePercentage`, `$labels`, `$value`); the suite runs `vmalert -dryRun` on every
file, which parses each expression and template, and a live test evaluates the prod
rules in vmalert against VictoriaMetrics and checks that every annotation renders.

One difference in behaviour: Prometheus evaluates a group's rules in order and an alert
sees the recording rules above it at once, while vmalert stores recording-rule results
through `-remoteWrite.url` (required for these rules, as alerts read recording rules)
and its alerts see them once written, a flush interval or an evaluation later.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from rulesgen.ir import ProgramIR, RuleGroup
from rulesgen.targets import base
from rulesgen.targets.prometheus import groups_document, rule_files


class Options(base.Options):
    """The `vmalert` target's settings. `emit` ignores `enabled`: the caller skips
    disabled targets."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # How many of a group's rules vmalert evaluates at once; None keeps vmalert's default, 1.
    concurrency: int | None = Field(default=None, ge=1)


def group_document(group: RuleGroup, options: Options) -> dict[str, Any]:
    (doc,) = groups_document([group])["groups"]
    # vmalert's keys go before `rules`, so the long list stays last and diffs stay local.
    out: dict[str, Any] = {"name": doc["name"], "type": "prometheus", "interval": doc["interval"]}
    if options.concurrency is not None:
        out["concurrency"] = options.concurrency
    out["rules"] = doc["rules"]
    return out


def emit(program: ProgramIR, options: Options) -> base.Files:
    return rule_files(program, "vmalert", "vmalert ", lambda group: group_document(group, options))


def _emit(program: ProgramIR, tests: base.Tests, options: Options) -> base.Files:
    return emit(program, options)


TARGET = base.Target("vmalert", Options, _emit, default=False, description="vmalert rule files")
