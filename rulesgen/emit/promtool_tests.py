"""promtool unit tests: `<env>/tests/<Alert>.test.yml`, each with a rule file of its own.

promtool evaluates every rule of a test's rule files at every step, so a rule file
per alert (its recording rules and alerting rules only) keeps each test cheap. The
scenarios and their expected alerts come fully expanded from the test generator.
"""

from __future__ import annotations

from typing import Any

from rulesgen.emit.base import Files, Options, Target, header
from rulesgen.emit.prometheus import groups_document
from rulesgen.emit.yamlout import dump
from rulesgen.ir import Alert, AlertTests, ProgramIR, RuleGroup, Scenario, TestSuite
from rulesgen.promql import Duration

TESTS_DIR = "tests"


def rule_file_name(alert: str) -> str:
    return f"rules/{alert}.rules.yml"


def unit_test_file(alert: str) -> str:
    return f"{alert}.test.yml"


def alert_group(alert: Alert, step: Duration) -> RuleGroup:
    """The alert's own rules, evaluated at the scenarios' step."""
    return RuleGroup(
        name=f"rulesgen.test.{alert.name}",
        file=rule_file_name(alert.name),
        interval=step,
        rules=(*alert.records, *alert.rules),
    )


def scenario_dict(alert: str, scenario: Scenario) -> dict[str, Any]:
    return {
        "name": f"{alert}/{scenario.name}",
        "interval": str(scenario.interval),
        "input_series": [{"series": s, "values": v} for s, v in scenario.series],
        "alert_rule_test": [
            {
                "eval_time": str(check.eval_time),
                "alertname": alert,
                "exp_alerts": [
                    {"exp_labels": dict(e.labels), "exp_annotations": dict(e.annotations)} for e in check.expected
                ],
            }
            for check in scenario.checks
        ],
    }


def unit_test_document(tests: AlertTests) -> dict[str, Any]:
    return {
        "rule_files": [rule_file_name(tests.alert)],
        "evaluation_interval": str(tests.evaluation_interval),
        "tests": [scenario_dict(tests.alert, s) for s in tests.scenarios],
    }


def emit(program: ProgramIR, suite: TestSuite, options: Options) -> Files:
    files: Files = {}
    for tests in suite.tests:
        alert = program.env(tests.env).alert(tests.alert)
        base = f"{tests.env}/{TESTS_DIR}"
        files[f"{base}/{rule_file_name(alert.name)}"] = dump(
            groups_document([alert_group(alert, tests.evaluation_interval)]),
            header(program.source, f"{tests.env} rules of {alert.name}, for its unit tests"),
        )
        files[f"{base}/{unit_test_file(alert.name)}"] = dump(
            unit_test_document(tests),
            header(program.source, f"{tests.env} unit tests of {alert.name}; run `rulesgen test`"),
        )
    return files


TARGET = Target("promtool_tests", Options, emit, description="promtool unit tests proving every alert")
