"""Alert compilation: one alert model in one environment becomes an `ir.Alert` with its
recording rules, its alerting rules (labels and annotations resolved) and its
condition tree."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rulesgen import conventions
from rulesgen.errors import Diagnostic
from rulesgen.ir import Alert, AlertRule, Origin, PanelRef, Selector
from rulesgen.kinds.base import AlertModel, CompileContext, KindRules, Resolve
from rulesgen.lower.overrides import EnvAlert
from rulesgen.lower.templates import TemplateError, message, render_template
from rulesgen.lower.wording import spelled
from rulesgen.model import goparse
from rulesgen.promql import Matcher
from rulesgen.spec.models import NotMatcher, NotSetRef, SelectorSpec, SetRef
from rulesgen.spec.validate import Document

# Keyed by id(model), holding the model too: a model collected while its id stays in
# the memo could hand its id, and its rules, to a new model (mutants in the tests).
Memo = dict[int, tuple[AlertModel, KindRules]]


def resolver(doc: Document) -> Resolve:
    """Turns a selector's matchers (values, lists, label sets, negations) into PromQL matchers."""
    sets = doc.header.label_sets

    def resolve(sel: SelectorSpec) -> tuple[Matcher, ...]:
        out = []
        for label, value in sorted(sel.matchers.items()):
            if isinstance(value, SetRef):
                out.append(Matcher(label, tuple(sets[value.set].values)))
            elif isinstance(value, NotSetRef):
                known = sets[value.not_set]
                out.append(Matcher(label, (*known.values, *known.others), negate=True))
            elif isinstance(value, NotMatcher):
                negated = value.not_ if isinstance(value.not_, list) else [value.not_]
                out.append(Matcher(label, tuple(negated), negate=True))
            elif isinstance(value, list):
                out.append(Matcher(label, tuple(value)))
            else:
                out.append(Matcher(label, (value,)))
        return tuple(out)

    return resolve


class AlertCompiler:
    """Compiles the alerts of one spec; PromQL is the same in every environment, so an
    alert no environment overrides is compiled once (`memo`, keyed by the model)."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.resolve = resolver(doc)
        self.memo: Memo = {}

    def metric_labels(self, metric: str) -> tuple[str, ...]:
        spec = self.doc.header.metrics.get(metric)
        return tuple(spec.labels) if spec else ()

    def rules_of(self, model: AlertModel) -> KindRules:
        known = self.memo.get(id(model))
        if known is None or known[0] is not model:
            known = self.memo[id(model)] = (model, model.compile(CompileContext(resolve=self.resolve)))
        return known[1]

    def compile(self, env: str, alert: EnvAlert, errors: list[Diagnostic]) -> Alert:
        model = alert.model
        settings = self.doc.header.settings
        rules = self.rules_of(model)
        base_vars = {**model.template_vars(), "env": env}
        render = self._renderer(env, alert, errors)
        runbook = model.runbook_url or (
            conventions.runbook_url(settings.runbook_base_url, model.name) if settings.runbook_base_url else None
        )
        panel = None
        if settings.grafana_base_url:
            panel = PanelRef(
                dashboard_uid=conventions.dashboard_uid(conventions.ALERTS_DASHBOARD, env),
                panel_id=conventions.alert_panel_id(model.name),
                url=conventions.dashboard_url(settings.grafana_base_url, env, model.name),
            )
        env_labels = self.doc.header.environments[env].labels
        self._check_labels(env, alert, errors)
        reads = tuple(Selector(u.selector.metric, self.resolve(u.selector)) for u in model.selectors())
        alert_rules = []
        for variant in rules.variants:
            variables = {**base_vars, **dict(variant.template_vars)}
            annotations = {
                "summary": render(model.summary, variables, "summary"),
                "description": render(model.description or model.default_description(), variables, "description"),
            }
            if runbook:
                annotations["runbook_url"] = runbook
            if panel:
                annotations["dashboard_url"] = panel.url
            labels = {
                **env_labels,
                **model.labels,
                **dict(variant.labels),
                "env": env,
                "severity": variant.severity or model.severity,
                "team": model.team,
            }
            alert_rules.append(
                AlertRule(
                    alert=model.name,
                    expr=variant.expr,
                    for_=variant.for_ if variant.for_ is not None else model.for_,
                    labels=tuple(sorted(labels.items())),
                    annotations=tuple(sorted(annotations.items())),
                    condition=spelled(variant.condition, model, reads),
                    keep_firing_for=model.keep_firing_for,
                    budget=variant.budget,
                )
            )
        line, column = self.doc.positions.of(alert.path)
        return Alert(
            name=model.name,
            env=env,
            kind=model.kind,
            team=model.team,
            severity=model.severity,
            for_=model.for_,
            grouping=model.grouping(),
            result_labels=model.result_labels(self.metric_labels),
            reads=reads,
            records=rules.records,
            rules=tuple(alert_rules),
            origin=Origin(self.doc.file, line, column),
            summary=model.summary,
            runbook_url=runbook,
            panel=panel,
            keep_firing_for=model.keep_firing_for,
        )

    def _renderer(
        self, env: str, alert: EnvAlert, errors: list[Diagnostic]
    ) -> Callable[[str, dict[str, Any], str], str]:
        def render(template: str, variables: dict[str, Any], field: str) -> str:
            path, overridden = alert.where(field)
            try:
                text = render_template(template, variables)
                goparse.check(text)
            except TemplateError as exc:
                errors.append(_in_env(self.doc.positions.error(path, message(exc)), env if overridden else None))
                return template
            except goparse.GoTemplateError as exc:
                errors.append(_in_env(self.doc.positions.error(path, _go_message(exc)), env if overridden else None))
            return text

        return render

    def _check_labels(self, env: str, alert: EnvAlert, errors: list[Diagnostic]) -> None:
        """Prometheus expands rule labels as templates too: each must parse as one."""
        path, overridden = alert.where("labels")
        located = [((*path, k), v, env if overridden else None) for k, v in alert.model.labels.items()]
        env_path = ("environments", env, "labels")
        located += [((*env_path, k), v, env) for k, v in self.doc.header.environments[env].labels.items()]
        for where, value, in_env in located:
            try:
                goparse.check(value)
            except goparse.GoTemplateError as exc:
                errors.append(_in_env(self.doc.positions.error(where, _go_message(exc)), in_env))


def _go_message(exc: goparse.GoTemplateError) -> str:
    return f"Go template error (Prometheus would refuse it): {exc}"


def _in_env(error: Diagnostic, env: str | None) -> Diagnostic:
    return Diagnostic(**{**error.__dict__, "env": env, "code": "RG003"})
