"""promtool unit tests: `<env>/tests/<Alert>.promtool-test.yaml`, one file per alert.

The files carry no `rule_files`: `rulesgen test` fills them in at run time with the
alert's rules taken from the deployed `<env>/prometheus/` files, so the tests judge
what Prometheus loads. The suffix matches no rule-deploy glob (`*.rules.yml`,
`*.rules.yaml`), so a test can never be shipped to Prometheus as a rule file. The
scenarios and their expected alerts come fully expanded from the test generator.
"""

from __future__ import annotations

from typing import Any

from rulesgen.conventions import TESTS_DIR, unit_test_file
from rulesgen.filetree import FileTree
from rulesgen.ir import AlertTests, ExpectedAlert, ProgramIR, Scenario
from rulesgen.promql import Duration
from rulesgen.targets.base import Files, Options, Target, Tests, header
from rulesgen.targets.promtool_notation import input_series_dict
from rulesgen.targets.yamlout import Repeated, dump


def scenario_dict(alert: str, scenario: Scenario, shared: dict[int, Repeated]) -> dict[str, Any]:
    """promtool's test of `scenario`. Checks expecting the same alerts (the same
    tuple, which test generation shares) share one `exp_alerts` value in `shared`, so
    the YAML writer renders it once: it is most of a test file's lines."""
    return {
        "name": f"{alert}/{scenario.name}",
        "interval": str(scenario.interval),
        "input_series": [input_series_dict(s) for s in scenario.series],
        "alert_rule_test": [
            {
                "eval_time": str(check.eval_time),
                "alertname": alert,
                "exp_alerts": _expected(check.expected, shared),
            }
            for check in scenario.checks
        ],
    }


def _expected(expected: tuple[ExpectedAlert, ...], shared: dict[int, Repeated]) -> Repeated:
    known = shared.get(id(expected))
    if known is None:
        known = shared[id(expected)] = Repeated(
            {"exp_labels": dict(e.labels), "exp_annotations": dict(e.annotations)} for e in expected
        )
    return known


def unit_test_documents(tests: AlertTests) -> dict[Duration | None, dict[str, Any]]:
    """promtool's test documents without `rule_files`, by evaluation interval (None: the
    alert's own); the test runner adds the rules, in groups of that interval."""
    by_interval: dict[Duration | None, list[Scenario]] = {}
    # By id: every tuple is held by `tests` while its documents are.
    shared: dict[int, Repeated] = {}
    for scenario in tests.scenarios:
        by_interval.setdefault(scenario.evaluation_interval, []).append(scenario)
    return {
        every: {
            "evaluation_interval": str(every or tests.evaluation_interval),
            "tests": [scenario_dict(tests.alert, s, shared) for s in scenarios],
        }
        for every, scenarios in by_interval.items()
    }


def emit(program: ProgramIR, suite: Tests, options: Options) -> Files:
    # A FileTree: a spec of thousands of alerts renders gigabytes of tests, held
    # compressed as each alert's are rendered (`suite` may be a stream, alert by alert).
    files = FileTree()
    for tests in suite:
        for every, document in unit_test_documents(tests).items():
            files[f"{tests.env}/{TESTS_DIR}/{unit_test_file(tests.alert, every)}"] = dump(
                document,
                header(
                    program.source,
                    f"{tests.env} unit tests of {tests.alert}"
                    + (f" evaluated every {every}" if every is not None else "")
                    + f"; `rulesgen test` runs them against the deployed rules in {tests.env}/prometheus/",
                ),
            )
    return files


TARGET = Target("promtool_tests", Options, emit, description="promtool unit tests proving every alert")
