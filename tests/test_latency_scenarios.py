"""The latency regression's scenarios reach what its coarse, steady scenarios cannot:
a quantile exactly on a threshold, and the shipped alert's tests check it there."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import OUTPUT, require
from rulesgen.conventions import unit_test_file
from rulesgen.kinds.latency_regression import LatencyRegression
from rulesgen.mutate import alert_mutants
from rulesgen.testgen.planner import plan_scenarios
from rulesgen.verify.closure import rule_closure
from rulesgen.verify.deployed import load_groups
from rulesgen.verify.promtool import describe, read_test, run_promtool, write_run_files

COMMON = {"kind": "latency_regression", "name": "L", "team": "t", "severity": "s", "summary": "s", "metric": "h"}


def model(threshold: float, quantile: float, floor: str = "100ms", **extra: Any) -> LatencyRegression:
    fields = {**COMMON, "threshold": threshold, "quantile": quantile, "floor": floor, "for": "10m", **extra}
    return LatencyRegression.model_validate(fields)


def scenario(env: str, name: str) -> dict[str, Any]:
    doc = yaml.safe_load((OUTPUT / env / "tests" / "ApiLatencyRegression.promtool-test.yaml").read_text())
    found: dict[str, Any] = next(t for t in doc["tests"] if t["name"] == f"ApiLatencyRegression/{name}")
    return found


def fired(test: dict[str, Any]) -> list[bool]:
    return [bool(check["exp_alerts"]) for check in test["alert_rule_test"]]


@pytest.mark.parametrize("threshold", [0.01, 0.2, 0.5, 1.0])
@pytest.mark.parametrize("quantile", [0.5, 0.9, 0.95, 0.99, 0.999])
@pytest.mark.parametrize("floor", ["50ms", "100ms", "1s"])
def test_a_quantile_lands_exactly_on_the_factor_and_on_the_floor(threshold: float, quantile: float, floor: str) -> None:
    names = [name for name, _ in model(threshold, quantile, floor).boundary_scenarios(2100, 60)]
    assert "exactly_at_then_past_the_regression" in names
    assert "exactly_at_then_over_the_floor" in names


@pytest.mark.parametrize(("threshold", "quantile"), [(0.01, 0.5), (0.01, 0.999), (1.0, 0.5), (1.0, 0.999)])
def test_the_planner_checks_the_exact_thresholds_on_an_evaluation(threshold: float, quantile: float) -> None:
    """The model agrees: silent where the quantile is on the threshold, firing just past it."""
    plans = {plan.name: plan for plan in plan_scenarios(model(threshold, quantile, "1s"), lambda _: (), {})}
    for name in ("exactly_at_then_past_the_regression", "exactly_at_then_over_the_floor", "minute_bursts"):
        fired = [bool(check.firing) for check in plans[name].checks]
        assert fired[0] is False and fired[1:] and all(fired[1:]), (name, fired)


@pytest.mark.parametrize("env", ["prod", "staging"])
@pytest.mark.parametrize("name", ["exactly_at_then_past_the_regression", "exactly_at_then_over_the_floor"])
def test_the_alert_is_silent_on_its_thresholds_and_fires_just_past_them(env: str, name: str) -> None:
    assert fired(scenario(env, name)) == [False, True]  # the evaluation before it fires, and then


def test_a_baseline_of_zero_never_pages() -> None:
    """A week ago every request sat in a bucket `le="0"`: the baseline is 0, and the guard
    keeps the breach now from paging as an infinite regression."""
    zero = scenario("prod", "zero_baseline")
    assert any('le="0"' in s["series"] for s in zero["input_series"])
    assert not any(fired(zero))


def test_a_rollout_adding_a_bucket_changes_nothing_summed_by_le() -> None:
    """The new version's histogram has one more bucket than the old one's: summed by
    `le`, the quantile is the old one's when the new version takes over as healthy, and
    a week after the rollout a breach pages as usual."""
    now, then = scenario("prod", "rolled_out_now"), scenario("prod", "rolled_out_a_week_ago")
    for test in (now, then):
        layouts: dict[str, set[str]] = {}
        for s in test["input_series"]:
            if s["series"].startswith("up{"):
                continue  # each scrape target's up series
            labels = dict(part.split("=", 1) for part in s["series"].split("{", 1)[1].rstrip("}").split(","))
            layouts.setdefault(labels["instance"], set()).add(labels["le"])
        assert len(layouts) == 2 and len(set(map(len, layouts.values()))) == 2  # one has an extra bucket
    assert not any(fired(now)) and any(fired(then))


def test_requests_varying_minute_by_minute_page_on_the_rate_over_the_window() -> None:
    """Sampled every minute and evaluated every 5h as the other scenarios: slow minutes
    with a healthy last one page against a week ago's healthy minutes with a slow last
    one, one evaluation after the first window of them. Only the samples evaluations
    read are written: two windows before each evaluation and before its baseline."""
    bursts = scenario("prod", "minute_bursts")
    assert bursts["interval"] == "1m"
    assert fired(bursts) == [False, True, True]
    written = [token for s in bursts["input_series"] for token in s["values"].split()]
    assert sum(token.startswith("_") for token in written) > len(bursts["input_series"]) * 5
    slow = next(s["values"] for s in bursts["input_series"] if 'le="2.25825"' in s["series"])
    healthy = next(s["values"] for s in bursts["input_series"] if 'le="0.2"' in s["series"])
    assert slow != healthy  # the mix changes within each window


# (environment, operator, rule kind, text of the mutated rule, the scenario that must fail)
KILLS = [
    ("prod", "comparison-boundary", "alert", ">= 1.2", "exactly_at_then_past_the_regression"),
    ("prod", "comparison-boundary", "alert", ">= 0.1", "exactly_at_then_over_the_floor"),
    ("staging", "threshold-toward-silence", "alert", "> 1.515", "exactly_at_then_past_the_regression"),
    ("prod", "range-doubled", "alert", "[10m] offset 1w", "minute_bursts"),
    ("prod", "rate-to-irate", "record", "irate(", "minute_bursts"),
    ("prod", "rate-to-irate", "alert", "irate(", "minute_bursts"),
    ("prod", "sum-to-avg", "record", "avg by (le, route)", "rolled_out_now"),
    ("prod", "sum-to-avg", "alert", "avg by (le, route)", "rolled_out_a_week_ago"),
    ("prod", "denominator-guard-dropped", "alert", "offset 1w)))", "zero_baseline"),
]


def test_each_scenario_fails_on_the_rules_it_is_meant_to_tell_apart(tmp_path: Path) -> None:
    """A quantile on a threshold, requests varying within a window, a rollout adding a
    bucket and a baseline of 0 are what tell these mutants from the rules."""
    require("promtool")
    runs = []
    for n, (env, operator, rule, text, name) in enumerate(KILLS):
        path = OUTPUT / env / "tests" / unit_test_file("ApiLatencyRegression")
        doc = read_test(path)
        doc = {**doc, "tests": [t for t in doc["tests"] if t["name"] == f"ApiLatencyRegression/{name}"]}
        closure = rule_closure(load_groups(OUTPUT / env), "ApiLatencyRegression")
        (mutated,) = [
            mutated
            for mutant, mutated in alert_mutants(env, "ApiLatencyRegression", closure)
            if mutant.operator == operator and mutant.rule.startswith(rule) and text in mutant.after
        ]
        runs.append(replace(describe(env, path, doc, 1), run_file=write_run_files(doc, mutated, tmp_path, f"m{n}")[1]))
    run_promtool(runs, jobs=2)
    assert [r.ok for r in runs] == [False] * len(KILLS), [kill for kill, r in zip(KILLS, runs, strict=True) if r.ok]
