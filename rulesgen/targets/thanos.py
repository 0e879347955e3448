"""Thanos Ruler: rule files `<env>/thanos/<team>.rules.yml`.

Thanos Ruler reads the Prometheus rule format plus one group field,
`partial_response_strategy`: what a rule evaluation does when some Store API behind the
Querier does not answer. `abort` (the default here) fails the evaluation, so an alert
never fires or resolves on a partial view of the data; `warn` evaluates what did answer
and only logs, which suits rules that tolerate a missing cluster.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from rulesgen.ir import ProgramIR, RuleGroup
from rulesgen.targets import base
from rulesgen.targets.prometheus import groups_document, rule_files
from rulesgen.targets.scoping import scoped_program


class Options(base.Options):
    """The `thanos` target's settings. `emit` ignores `enabled`: the caller skips
    disabled targets."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # Matchers every raw selector gets on a shared query layer (`{env}`: the
    # environment's name), e.g. {env: "{env}"}: see rulesgen.targets.scoping.
    scope: dict[str, str] = Field(default_factory=dict)

    partial_response_strategy: Literal["abort", "warn"] = "abort"


def group_document(group: RuleGroup, options: Options) -> dict[str, Any]:
    (doc,) = groups_document([group])["groups"]
    return {
        "name": doc["name"],
        "interval": doc["interval"],
        "partial_response_strategy": options.partial_response_strategy,
        "rules": doc["rules"],
    }


def emit(program: ProgramIR, options: Options) -> base.Files:
    program = scoped_program(program, options.scope)
    return rule_files(program, "thanos", "Thanos Ruler ", lambda group: group_document(group, options))


def _emit(program: ProgramIR, tests: base.Tests, options: Options) -> base.Files:
    return emit(program, options)


TARGET = base.Target("thanos", Options, _emit, default=False, description="Thanos Ruler rule files")
