"""Grafana Mimir (and Cortex) ruler: one rule namespace file per environment and team,
`<env>/mimir/<team>.yaml`, in the format `mimirtool rules load` and `mimirtool rules sync`
read (cortextool's is the same):

    namespace: "<namespace_prefix><env>-<team>"
    groups: [{name, interval, rules}, ...]

mimirtool decodes these files strictly (unknown keys are errors) into a namespace and
Prometheus rule groups, which may also carry Mimir's `source_tenants` (federated rules);
rulesgen writes none. The namespace is named in the file rather than taken from the file
name, so the same file loads the same way wherever it is copied, and it includes the
environment, so environments that share a tenant do not replace each other's rules.
"""

from __future__ import annotations

import re

from pydantic import ConfigDict, Field, field_validator

from rulesgen.ir import ProgramIR, RuleGroup
from rulesgen.targets import base
from rulesgen.targets.base import Tests, header
from rulesgen.targets.prometheus import groups_document
from rulesgen.targets.scoping import scoped_program
from rulesgen.targets.yamlout import dump

# Namespaces become part of the ruler's storage object keys and its API paths
# (/prometheus/config/v1/rules/<namespace>): keep them to URL- and path-safe characters.
_NAMESPACE_PREFIX = re.compile(r"^[A-Za-z0-9_.-]*$")


class Options(base.Options):
    """The `mimir` target's settings. `emit` ignores `enabled`: the caller skips
    disabled targets."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # Matchers every raw selector gets on a shared query layer (`{env}`: the
    # environment's name), e.g. {env: "{env}"}: see rulesgen.targets.scoping.
    scope: dict[str, str] = Field(default_factory=dict)

    namespace_prefix: str = "rulesgen-"

    @field_validator("namespace_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _NAMESPACE_PREFIX.match(value):
            raise ValueError(f"{value!r} may contain only letters, digits, '_', '.' and '-'")
        return value


def team_of(group: RuleGroup) -> str:
    """The team a rule group belongs to: rulesgen writes one group per team, in `<team>.rules.yml`."""
    return group.file.removesuffix(".yml").removesuffix(".yaml").removesuffix(".rules")


def namespace(env: str, group: RuleGroup, options: Options) -> str:
    return f"{options.namespace_prefix}{env}-{team_of(group)}"


def emit(program: ProgramIR, options: Options) -> dict[str, bytes]:
    program = scoped_program(program, options.scope)
    files: dict[str, bytes] = {}
    for env in program.envs:
        for group in env.groups:
            files[f"{env.env}/mimir/{team_of(group)}.yaml"] = dump(
                {"namespace": namespace(env.env, group, options), **groups_document([group])},
                header(program.source, f"{env.env} Mimir ruler namespace of group {group.name}"),
            )
    return files


def _emit(program: ProgramIR, tests: Tests, options: Options) -> dict[str, bytes]:
    return emit(program, options)


TARGET = base.Target("mimir", Options, _emit, default=False, description="Mimir / Cortex ruler namespace files")
