"""promtool unit tests: `<env>/tests/<Alert>.test.yml`, each with a rule file of its own.

promtool evaluates every rule of a test's rule files at every step, so a rule file
per alert (its recording rules and alerting rules only) keeps each test cheap.
"""

from __future__ import annotations

from typing import Any

from rulesgen.emit import Files
from rulesgen.emit.prometheus import groups_document, header
from rulesgen.emit.yamlout import dump
from rulesgen.ir import CompiledAlert, ProgramIR, RuleGroup
from rulesgen.promql import Duration
from rulesgen.scenarios import Scenario, expected_alerts

TESTS_DIR = "tests"


def rule_file_name(alert: str) -> str:
    return f"rules/{alert}.rules.yml"


def unit_test_file(alert: str) -> str:
    return f"{alert}.test.yml"


def alert_group(compiled: CompiledAlert, step: Duration) -> RuleGroup:
    """The alert's own rules, evaluated at the scenarios' step."""
    return RuleGroup(
        name=f"rulesgen.test.{compiled.name}",
        file=rule_file_name(compiled.name),
        interval=step,
        rules=(*compiled.records, *compiled.rules),
    )


def scenario_dict(compiled: CompiledAlert, scenario: Scenario) -> dict[str, Any]:
    return {
        "name": f"{compiled.name}/{scenario.name}",
        "interval": str(scenario.step),
        "input_series": [{"series": s, "values": v} for s, v in scenario.series],
        "alert_rule_test": [
            {
                "eval_time": str(scenario.step * check.step),
                "alertname": compiled.name,
                "exp_alerts": [
                    {"exp_labels": dict(e.labels), "exp_annotations": dict(e.annotations)}
                    for e in expected_alerts(compiled, check.firing)
                ],
            }
            for check in scenario.checks
        ],
    }


def unit_test_document(compiled: CompiledAlert) -> dict[str, Any]:
    step = compiled.scenarios[0].eval_step
    return {
        "rule_files": [rule_file_name(compiled.name)],
        "evaluation_interval": str(step),
        "tests": [scenario_dict(compiled, s) for s in compiled.scenarios],
    }


def emit(program: ProgramIR) -> Files:
    files: Files = {}
    for env in program.envs:
        for compiled in env.alerts:
            if not compiled.scenarios:
                continue
            step = compiled.scenarios[0].eval_step
            base = f"{env.env}/{TESTS_DIR}"
            files[f"{base}/{rule_file_name(compiled.name)}"] = dump(
                groups_document([alert_group(compiled, step)]),
                header(program.source, f"{env.env} rules of {compiled.name}, for its unit tests"),
            )
            files[f"{base}/{unit_test_file(compiled.name)}"] = dump(
                unit_test_document(compiled),
                header(program.source, f"{env.env} unit tests of {compiled.name}; run `rulesgen test`"),
            )
    return files
