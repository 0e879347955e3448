"""Lowering: apply environment overrides, resolve label sets, render templates and
compile every alert into IR rules, once, for every environment."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from pathlib import PurePath
from typing import Any

import jinja2
from pydantic import ValidationError

from rulesgen import conventions
from rulesgen.errors import Path, SpecError, SpecErrors, did_you_mean
from rulesgen.examples import example_scenarios
from rulesgen.ir import AlertRule, CompiledAlert, EnvIR, ProgramIR, RecordingRule, RuleGroup
from rulesgen.kinds.base import AlertSpec, CompileContext, KindRules
from rulesgen.promql import Matcher, number
from rulesgen.routing import alertmanager_ir, check_routing
from rulesgen.scenarios import Scenario, check_predictable, plan_scenarios
from rulesgen.simulate import ScenarioError, TemplateNotPredictable
from rulesgen.spec.models import NotMatcher, SelectorSpec, SetRef
from rulesgen.spec.validate import Spec, pydantic_errors

RESERVED_LABELS = frozenset({"alertname", "severity", "team", "env"})

# `[[ threshold ]]` is ours, `{{ $value }}` is Prometheus's: the two template
# languages must not share delimiters.
_JINJA = jinja2.Environment(
    variable_start_string="[[",
    variable_end_string="]]",
    block_start_string="[%",
    block_end_string="%]",
    comment_start_string="[#",
    comment_end_string="#]",
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
)


def _fields(alert: AlertSpec) -> dict[str, Any]:
    """The alert's values keyed as the spec writes them (`for`, not `for_`)."""
    return {info.alias or name: getattr(alert, name) for name, info in type(alert).model_fields.items()}


def apply_overrides(spec: Spec, env: str, errors: list[SpecError]) -> list[AlertSpec]:
    """The alerts as they are in `env`, after its typed overrides."""
    overrides = spec.header.environments[env].overrides
    by_name = {alert.name: alert for alert in spec.alerts}
    at: Path = ("environments", env, "overrides")
    for name in overrides:
        if name not in by_name:
            hint = did_you_mean(name, by_name)
            errors.append(spec.positions.error((*at, name), f"override names unknown alert {name!r}{hint}", key=True))
    out = []
    for alert in spec.alerts:
        fields = overrides.get(alert.name)
        if fields is None:
            out.append(alert)
            continue
        model = type(alert)
        known = {info.alias or n for n, info in model.model_fields.items()}
        bad = False
        for key in fields:
            if key in model.fixed_fields:
                errors.append(spec.positions.error((*at, alert.name, key), f"{key!r} cannot be overridden", key=True))
                bad = True
            elif key not in known:
                hint = did_you_mean(key, sorted(known))
                errors.append(
                    spec.positions.error(
                        (*at, alert.name, key),
                        f"{alert.kind} alert {alert.name} has no field {key!r}{hint}",
                        key=True,
                    )
                )
                bad = True
        if bad:
            continue
        try:
            out.append(model.model_validate({**_fields(alert), **fields}))
        except ValidationError as exc:
            errors.extend(pydantic_errors(exc, (*at, alert.name), fields, spec.positions))
    return out


def _resolver(spec: Spec) -> Any:
    sets = spec.header.label_sets

    def resolve(sel: SelectorSpec) -> tuple[Matcher, ...]:
        out = []
        for label, value in sorted(sel.matchers.items()):
            if isinstance(value, SetRef):
                out.append(Matcher(label, tuple(sets[value.set].values)))
            elif isinstance(value, NotMatcher):
                negated = value.not_ if isinstance(value.not_, list) else [value.not_]
                out.append(Matcher(label, tuple(negated), negate=True))
            elif isinstance(value, list):
                out.append(Matcher(label, tuple(value)))
            else:
                out.append(Matcher(label, (value,)))
        return tuple(out)

    return resolve


@lru_cache(maxsize=4096)
def _template(source: str) -> jinja2.Template:
    return _JINJA.from_string(source)


_SIMPLE = re.compile(r"\[\[\s*([A-Za-z_]\w*)\s*(?:\|\s*([A-Za-z_]\w*)\s*)?\]\]")


def render_template(template: str, variables: dict[str, Any]) -> str:
    """Render `[[ ... ]]` placeholders.

    Templates made only of `[[ name ]]` and `[[ name | filter ]]` are filled in
    directly, with Jinja's semantics: compiling a Jinja template costs about a
    millisecond, which dominates a 5,000-alert spec. Anything richer goes to Jinja.
    """
    if "[%" in template or "[#" in template or _SIMPLE.sub("", template).count("[[") > 0:
        return _template(template).render(variables)

    def substitute(match: re.Match[str]) -> str:
        name, filter_name = match.group(1), match.group(2)
        if name not in variables:
            raise jinja2.UndefinedError(f"{name!r} is undefined")
        value = variables[name]
        if filter_name is None:
            return str(value)
        if filter_name not in _JINJA.filters:
            raise jinja2.TemplateAssertionError(f"No filter named {filter_name!r}.", 1)
        return str(_JINJA.filters[filter_name](value))

    return _SIMPLE.sub(substitute, template)


def _render(template: str, variables: dict[str, Any], where: Path, spec: Spec, errors: list[SpecError]) -> str:
    try:
        return render_template(template, variables)
    except jinja2.TemplateError as exc:
        errors.append(spec.positions.error(where, f"template error: {exc.message or exc}"))
        return template


def compile_alert(
    spec: Spec,
    env: str,
    alert: AlertSpec,
    errors: list[SpecError],
    memo: dict[int, KindRules] | None = None,
    tests: bool = True,
    memo_plans: dict[int, list[Scenario]] | None = None,
) -> CompiledAlert:
    """One alert in one environment: its recording rules and alerting rules."""
    at = spec.alert_path(alert.name)
    settings = spec.header.settings
    # An alert no environment overrides is the same object in every environment,
    # and its PromQL does not depend on the environment: compile it once.
    memo = {} if memo is None else memo
    resolve = _resolver(spec)
    rules = memo.get(id(alert))
    if rules is None:
        rules = memo[id(alert)] = alert.compile(CompileContext(resolve=resolve))
    variables = {**alert.template_vars(), "env": env}
    for key in alert.labels:
        if key in RESERVED_LABELS:
            errors.append(spec.positions.error((*at, "labels", key), f"label {key!r} is set by rulesgen", key=True))
    annotations = {
        "summary": _render(alert.summary, variables, (*at, "summary"), spec, errors),
        "description": _render(
            alert.description or alert.default_description(), variables, (*at, "description"), spec, errors
        ),
        "runbook_url": alert.runbook_url or conventions.runbook_url(settings.runbook_base_url, alert.name),
        "dashboard_url": conventions.dashboard_url(settings.grafana_base_url, env, alert.name),
    }
    env_labels = spec.header.environments[env].labels
    alert_rules = []
    for variant in rules.variants:
        labels = {
            **env_labels,
            **alert.labels,
            **dict(variant.labels),
            "env": env,
            "severity": variant.severity or alert.severity,
            "team": alert.team,
        }
        alert_rules.append(
            AlertRule(
                alert=alert.name,
                expr=variant.expr,
                for_=variant.for_ if variant.for_ is not None else alert.for_,
                keep_firing_for=alert.keep_firing_for,
                labels=tuple(sorted(labels.items())),
                annotations=tuple(sorted(annotations.items())),
            )
        )
    compiled = CompiledAlert(
        name=alert.name,
        kind=alert.kind,
        team=alert.team,
        severity=alert.severity,
        spec=alert,
        records=rules.records,
        rules=tuple(alert_rules),
        thresholds=tuple(v.threshold for v in rules.variants),
        source_line=spec.positions.of(at)[0],
    )
    if errors or not tests:
        return compiled
    try:
        for rule in compiled.rules:
            check_predictable(rule)
        plans = memo_plans if memo_plans is not None else {}
        if id(alert) not in plans:
            plans[id(alert)] = plan_scenarios(alert, resolve, spec.header.label_sets) + example_scenarios(
                compiled, resolve, spec, errors
            )
        scenarios = plans[id(alert)]
    except (ScenarioError, TemplateNotPredictable) as exc:
        errors.append(spec.positions.error(at, f"cannot generate tests: {exc}"))
        return compiled
    return replace(compiled, scenarios=tuple(scenarios))


def _groups(spec: Spec, alerts: list[CompiledAlert]) -> tuple[RuleGroup, ...]:
    """One group per team: its recording rules in first-use order (so a ratio follows
    the rates it divides), then its alerts. A record shared by two teams lives with
    the first, since a rule defined twice would write the same series twice."""
    placed: set[str] = set()
    groups = []
    for team in spec.header.teams:
        rules: list[RecordingRule | AlertRule] = []
        for compiled in alerts:
            if compiled.team != team:
                continue
            for record in compiled.records:
                if record.record not in placed:
                    placed.add(record.record)
                    rules.append(record)
        rules.extend(rule for compiled in alerts if compiled.team == team for rule in compiled.rules)
        if rules:
            groups.append(
                RuleGroup(
                    name=conventions.group_name(team),
                    file=conventions.rule_file(team),
                    interval=spec.header.settings.evaluation_interval,
                    rules=tuple(rules),
                )
            )
    return tuple(groups)


def _check_panel_ids(spec: Spec, errors: list[SpecError]) -> None:
    owners: dict[int, str] = {}
    for alert in spec.alerts:
        panel = conventions.alert_panel_id(alert.name)
        if panel in owners:
            errors.append(
                spec.positions.error(
                    (*spec.alert_path(alert.name), "name"),
                    f"alert name hashes to the same dashboard panel id as {owners[panel]}; rename one",
                )
            )
        owners[panel] = alert.name


def _percent(value: float) -> str:
    return number(round(value * 100, 10)) + "%"


_JINJA.filters["num"] = number
_JINJA.filters["percent"] = _percent


def panel_query(expr: str) -> str:
    """A dashboard query with Grafana's variables replaced, so PromQL tools can parse it."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: "5m" if m.group(1).startswith("__") else ".*", expr)


def check_dashboards(spec: Spec, envs: list[EnvIR], errors: list[SpecError]) -> None:
    """Panel queries parse and read declared metrics or generated recording rules;
    panel overrides name known alerts."""
    import promql_parser

    settings = spec.header.settings.dashboards
    at: Path = ("settings", "dashboards")
    for name in settings.panel_overrides:
        if not spec.has_alert(name):
            errors.append(spec.positions.error((*at, "panel_overrides", name), f"unknown alert {name!r}", key=True))
    known = set(spec.header.metrics) | {
        f"{m}_bucket" for m, s in spec.header.metrics.items() if s.type.value == "histogram"
    }
    for env in envs:
        known |= {rule.record for group in env.groups for rule in group.rules if isinstance(rule, RecordingRule)}
    for b, board in enumerate(settings.boards):
        for p, panel in enumerate(board.panels):
            for q, query in enumerate(panel.all_queries()):
                panel_at: Path = (*at, "boards", b, "panels", p)
                where = (*panel_at, "queries", q, "expr") if panel.queries else (*panel_at, "expr")
                try:
                    ast = promql_parser.parse(panel_query(query.expr))
                except Exception as exc:  # the parser raises plain exceptions with its message
                    errors.append(spec.positions.error(where, f"PromQL does not parse: {exc}"))
                    continue
                names: list[str] = []

                def visit(node: Any, names: list[str] = names) -> None:
                    if isinstance(node, promql_parser.VectorSelector) and node.name:
                        names.append(node.name)

                promql_parser.walk(ast, visit)
                for name in names:
                    if name not in known:
                        errors.append(spec.positions.error(where, f"unknown metric {name!r}: declare it under metrics"))
        for v, variable in enumerate(board.variables):
            if variable.metric not in spec.header.metrics:
                errors.append(
                    spec.positions.error(
                        (*at, "boards", b, "variables", v, "metric"), f"unknown metric {variable.metric!r}"
                    )
                )


def lower(spec: Spec, tests: bool = True) -> ProgramIR:
    """Compile the spec for every environment; raises SpecErrors with all problems found.

    `tests=False` skips planning the unit-test scenarios (rules only)."""
    errors: list[SpecError] = []
    memo: dict[int, KindRules] = {}
    plans: dict[int, list[Scenario]] = {}
    _check_panel_ids(spec, errors)
    envs = []
    for env in spec.header.environments:
        alerts = [a for a in apply_overrides(spec, env, errors) if a.enabled]
        compiled = [compile_alert(spec, env, alert, errors, memo, tests, plans) for alert in alerts]
        check_routing(spec, compiled, env, errors)
        envs.append(
            EnvIR(
                env=env,
                alerts=tuple(compiled),
                groups=_groups(spec, compiled),
                labels=tuple(sorted(spec.header.environments[env].labels.items())),
                alertmanager=alertmanager_ir(spec, env),
            )
        )
    check_dashboards(spec, envs, errors)
    if errors:
        raise SpecErrors(errors)
    return ProgramIR(source=PurePath(spec.file).name, envs=tuple(envs), dashboards=spec.header.settings.dashboards)
