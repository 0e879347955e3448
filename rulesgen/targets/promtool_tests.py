"""promtool unit tests: `<env>/tests/<Alert>.promtool-test.yaml`, one file per alert.

The files carry no `rule_files`: `rulesgen test` fills them in at run time with the
alert's rules taken from the deployed `<env>/prometheus/` files, so the tests judge
what Prometheus loads. The suffix matches no rule-deploy glob (`*.rules.yml`,
`*.rules.yaml`), so a test can never be shipped to Prometheus as a rule file. The
scenarios and their expected alerts come fully expanded from the test generator.
"""

from __future__ import annotations

from typing import Any

from rulesgen.ir import AlertTests, ProgramIR, Scenario, TestSuite
from rulesgen.targets.base import Files, Options, Target, header
from rulesgen.targets.yamlout import dump

TESTS_DIR = "tests"
TEST_SUFFIX = ".promtool-test.yaml"


def unit_test_file(alert: str) -> str:
    """The file name of one alert's tests inside `<env>/tests/`."""
    return f"{alert}{TEST_SUFFIX}"


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
    """promtool's test document without `rule_files`; the test runner adds them and
    gives the rule groups it writes this `evaluation_interval`, as the per-alert rule
    files used to have."""
    return {
        "evaluation_interval": str(tests.evaluation_interval),
        "tests": [scenario_dict(tests.alert, s) for s in tests.scenarios],
    }


def emit(program: ProgramIR, suite: TestSuite, options: Options) -> Files:
    files: Files = {}
    for tests in suite.tests:
        files[f"{tests.env}/{TESTS_DIR}/{unit_test_file(tests.alert)}"] = dump(
            unit_test_document(tests),
            header(
                program.source,
                f"{tests.env} unit tests of {tests.alert}; `rulesgen test` runs them against"
                f" the deployed rules in {tests.env}/prometheus/",
            ),
        )
    return files


TARGET = Target("promtool_tests", Options, emit, description="promtool unit tests proving every alert")
