"""Test generation: scenario plans per alert, expanded per environment into plain-data
tests (`ir.TestSuite`) with every expected label and annotation spelled out."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from rulesgen.errors import Diagnostic, SpecErrors
from rulesgen.ir import Alert, AlertTests, Check, ExpectedAlert, Scenario, TestSuite
from rulesgen.kinds.base import AlertModel, Resolve
from rulesgen.model.alertstate import Firing
from rulesgen.model.gotemplate import TemplateNotPredictable, expand
from rulesgen.model.series import ScenarioError
from rulesgen.spec.validate import Document
from rulesgen.testgen.examples import example_plans
from rulesgen.testgen.plancache import PlanCache
from rulesgen.testgen.planner import named_values, plan_scenarios
from rulesgen.testgen.simulation import Plan


def expected_alerts(alert: Alert, firing: Sequence[Firing]) -> tuple[ExpectedAlert, ...]:
    """What promtool must see: every label and annotation, templates expanded."""
    out = []
    for f in firing:
        rule = alert.rules[f.variant]
        labels = {**dict(f.labels), **dict(rule.labels)}
        annotations = tuple((k, expand(v, f.labels, f.value)) for k, v in rule.annotations)
        out.append(ExpectedAlert(tuple(sorted(labels.items())), annotations))
    return tuple(sorted(out, key=lambda e: e.labels))


def expand_plans(alert: Alert, plans: Sequence[Plan]) -> AlertTests:
    """One environment's tests of an alert from its environment-independent plans."""
    # Most checks of an alert expect the same few outcomes (silence, the breach's
    # alert): expand each distinct outcome's templates once.
    expected: dict[tuple[Firing, ...], tuple[ExpectedAlert, ...]] = {}

    def expected_of(firing: tuple[Firing, ...]) -> tuple[ExpectedAlert, ...]:
        known = expected.get(firing)
        if known is None:
            known = expected[firing] = expected_alerts(alert, firing)
        return known

    scenarios = tuple(
        Scenario(
            name=plan.name,
            purpose=plan.purpose,
            interval=plan.step,
            series=plan.series,
            checks=tuple(Check(plan.step * c.step, expected_of(c.firing)) for c in plan.checks),
            evaluation_interval=None if plan.eval_step == plans[0].eval_step else plan.eval_step,
        )
        for plan in plans
    )
    return AlertTests(alert.env, alert.name, plans[0].eval_step, scenarios)


# Fields that name, describe or route an alert but never shape its scenarios: the
# planner reads the alert's selectors, thresholds, windows, `for` and kind-specific
# scenario parameters, never these (the name only in the message of a ScenarioError,
# which is raised, not cached). Examples are planned separately, per model object,
# because checking them reports errors at the alert's own position. A test checks
# that changing these fields leaves every kind's plans unchanged.
PLAN_INDEPENDENT = frozenset(
    {
        "name",
        "team",
        "severity",
        "ticket_severity",
        "summary",
        "description",
        "runbook_url",
        "labels",
        "enabled",
        "examples",
        "lint_disable",
        "quantity",
    }
)


def plan_key(model: AlertModel) -> str:
    """What an alert's generated scenarios depend on: its kind and its other fields,
    so environments and alerts that differ only in naming and routing share plans."""
    fields = set(type(model).model_fields) - PLAN_INDEPENDENT
    data = model.model_dump(mode="json", include=fields)
    return json.dumps([type(model).__module__, type(model).__qualname__, data], sort_keys=True)


class TestGenerator:
    """Plans each alert's scenarios once per distinct content (environments that do
    not override an alert's thresholds, and alerts of the same shape, share them) and
    expands the plans for every environment."""

    def __init__(self, doc: Document, resolve: Resolve, models: Sequence[AlertModel] = ()) -> None:
        self.doc = doc
        self.resolve = resolve
        self.elsewhere = named_values(models, resolve)
        self.plans: dict[int, list[Plan]] = {}
        self.generated: dict[str, tuple[Plan, ...]] = {}
        # Uses still to come of each model and plan key: a cached plan is dropped after
        # its last use, so memory holds the plans of the alerts not yet expanded rather
        # than of every alert (a few hundred MB at thousands of alerts). Models not
        # announced here are kept for the generator's lifetime.
        self.uses: Counter[int | str] = Counter()
        self.keys = {id(model): plan_key(model) for model in models}
        for model in models:
            self.uses[id(model)] += 1
            self.uses[self.keys[id(model)]] += 1
        self.metric_labels = {name: metric.labels for name, metric in doc.header.metrics.items()}
        self.disk = PlanCache(self._planner_inputs())

    def _planner_inputs(self) -> dict[str, Any]:
        """The spec-wide inputs every plan depends on besides the alert's own fields."""
        return {
            "label_sets": {k: v.model_dump(mode="json") for k, v in self.doc.header.label_sets.items()},
            "metric_labels": self.metric_labels,
            "elsewhere": sorted([*k, *v] for k, v in self.elsewhere.items()),
        }

    def _generated(self, model: AlertModel, key: str) -> tuple[Plan, ...]:
        generated = self.disk.get(key)
        if generated is None:
            plans = plan_scenarios(model, self.resolve, self.doc.header.label_sets, self.metric_labels, self.elsewhere)
            generated = tuple(plans)
            self.disk.put(key, generated)
        return generated

    def plans_of(self, model: AlertModel, errors: list[Diagnostic]) -> list[Plan]:
        plans = self.plans.get(id(model))
        key = self.keys.get(id(model)) or plan_key(model)
        if plans is None:
            generated = self.generated.get(key)
            if generated is None:
                generated = self.generated[key] = self._generated(model, key)
            plans = [*generated, *example_plans(model, self.resolve, self.doc, errors)]
            self.plans[id(model)] = plans
        self._used(self.plans, id(model))
        self._used(self.generated, key)
        return plans

    def _used(self, cache: dict[Any, Any], key: int | str) -> None:
        if key in self.uses:
            self.uses[key] -= 1
            if self.uses[key] <= 0:
                del self.uses[key]
                cache.pop(key, None)

    def tests(self, alert: Alert, model: AlertModel, errors: list[Diagnostic]) -> AlertTests | None:
        try:
            for rule in alert.rules:
                for _, template in rule.annotations:
                    expand(template, (), 1.0)
            plans = self.plans_of(model, errors)
        except (ScenarioError, TemplateNotPredictable) as exc:
            at = self.doc.alert_path(alert.name)
            errors.append(self.doc.positions.error(at, f"cannot generate tests: {exc}"))
            return None
        return expand_plans(alert, plans) if plans else None


def iter_tests(doc: Document, resolve: Resolve, alerts: Sequence[tuple[Alert, AlertModel]]) -> Iterator[AlertTests]:
    """The tests of every (IR alert, its model in that environment), alert by alert
    (by name; an alert's environments in the order given) as each is expanded, so a
    caller rendering them holds one alert's at a time. Raises SpecErrors after the
    last, when an alert cannot be tested or an example disagrees with the thresholds:
    every such error at once."""
    generator = TestGenerator(doc, resolve, [model for _, model in alerts])
    errors: list[Diagnostic] = []
    # Alert after alert: an alert's environments share most of their inputs, which the
    # promtool notation's memo then renders once.
    for alert, model in sorted(alerts, key=lambda pair: pair[0].name):
        tests = generator.tests(alert, model, errors)
        if tests is not None and not errors:
            yield tests
    if errors:
        raise SpecErrors([replace(e, code="RG004") for e in errors])


def generate_tests(doc: Document, resolve: Resolve, alerts: Sequence[tuple[Alert, AlertModel]]) -> TestSuite:
    """Every alert's tests (`iter_tests`), held together."""
    return TestSuite(tuple(iter_tests(doc, resolve, alerts)))
