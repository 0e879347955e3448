"""The backtest is Prometheus: on random histories (counters with births, resets and
gaps; gauges), the firing episodes the backtest computes from `query_range` and the
shared state machine are exactly the alerts promtool finds firing when it evaluates the
real rules (recording rules included) at every step."""

from __future__ import annotations

import dataclasses
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import SPEC, require
from rulesgen.backtest.evaluate import AlertRun, run_alert
from rulesgen.backtest.source import Matrix, openmetrics_server, query_range
from rulesgen.ir import AlertRule, EnvIR, RecordingRule
from rulesgen.pipeline import compile_spec
from rulesgen.spec.validate import load_spec

STEPS = 180  # three hours at 1m
STEP = 60

Series = tuple[str, dict[str, str], str, list[float | None]]  # metric, labels, type, values


def _counter(rng: random.Random, hot: float) -> list[float | None]:
    """A counter that may be born late, reset, miss scrapes, and burst."""
    born = rng.choice([0, 0, 0, rng.randrange(1, STEPS // 2)])
    value = float(rng.randrange(0, 50))
    out: list[float | None] = []
    burst_at, burst_len = rng.randrange(STEPS), rng.randrange(5, 30)
    for k in range(STEPS + 1):
        if k < born:
            out.append(None)
            continue
        value += rng.choice([0, 0, 1, 1, 2]) + (hot if burst_at <= k < burst_at + burst_len else 0)
        if rng.random() < 0.01:
            value = 0.0  # a restart
        out.append(None if rng.random() < 0.03 else value)
    return out


def _gauge(rng: random.Random, low: float, high: float) -> list[float | None]:
    value = (low + high) / 2
    out: list[float | None] = []
    for _ in range(STEPS + 1):
        value = min(high, max(low, value + rng.uniform(-(high - low) / 8, (high - low) / 8)))
        out.append(None if rng.random() < 0.03 else round(value, 3))
    return out


def history(seed: int) -> list[Series]:
    rng = random.Random(seed)
    out: list[Series] = []
    for network in ("polygon", "arbitrum", "polygon-amoy"):
        for status, hot in (("failed", rng.choice([0, 3, 8])), ("succeeded", 10)):
            labels = {"network": network, "status": status, "token": "usdc", "source": "api"}
            out.append(("billing_transactions_total", labels, "counter", _counter(rng, hot)))
        out.append(("billing_transactions_network_pending_total", {"network": network}, "gauge", _gauge(rng, 0, 40)))
        failed: list[float | None] = _counter(rng, 2) if rng.random() < 0.5 else [0.0] * (STEPS + 1)
        out.append(("billing_transactions_network_failed_total", {"network": network}, "counter", failed))
    out.append(("billing_subscriptions_churn_ratio", {}, "gauge", _gauge(rng, 0.1, 0.3)))
    for instance in ("redis-0", "redis-1"):
        labels = {"instance": instance}
        out.append(("redis_keyspace_hits_total", labels, "counter", _counter(rng, 0)))
        out.append(("redis_keyspace_misses_total", labels, "counter", _counter(rng, rng.choice([0, 4]))))
        out.append(("redis_memory_used_bytes", labels, "gauge", _gauge(rng, 40, 80)))
        out.append(("redis_memory_max_bytes", labels, "gauge", [100.0] * (STEPS + 1)))
    if rng.random() < 0.5:  # every billing series gone for a while: the absence alert
        gone = rng.randrange(STEPS // 2)
        for metric, _, _, values in out:
            if metric == "billing_transactions_total":
                values[gone : gone + 25] = [None] * 25
    return out


def _selector(metric: str, labels: dict[str, str]) -> str:
    return metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _num(v: float) -> str:
    return str(int(v)) if v == int(v) else repr(v)


def openmetrics(series: list[Series]) -> str:
    lines: list[str] = []
    for metric, labels, kind, values in sorted(series, key=lambda s: s[0]):
        family = metric.removesuffix("_total") if kind == "counter" else metric
        header = f"# TYPE {family} {kind}"
        if not lines or (lines[-1] != header and header not in lines):
            lines.append(header)
        lines += [f"{_selector(metric, labels)} {_num(v)} {k * STEP}" for k, v in enumerate(values) if v is not None]
    return "\n".join(lines) + "\n# EOF\n"


def promtool_values(values: list[float | None]) -> str:
    return " ".join("_" if v is None else _num(v) for v in values)


def rules_file(env: EnvIR) -> dict[str, Any]:
    """The environment's rules as Prometheus loads them, without annotations (which
    change no firing and would have to be expected verbatim)."""
    groups = []
    for group in env.groups:
        rules: list[dict[str, Any]] = []
        for rule in group.rules:
            if isinstance(rule, RecordingRule):
                rules.append(
                    {"record": rule.record, "expr": rule.expr, **({"labels": dict(rule.labels)} if rule.labels else {})}
                )
            elif isinstance(rule, AlertRule):
                entry: dict[str, Any] = {
                    "alert": rule.alert,
                    "expr": rule.expr,
                    "for": str(rule.for_),
                    "labels": dict(rule.labels),
                }
                if rule.keep_firing_for is not None:
                    entry["keep_firing_for"] = str(rule.keep_firing_for)
                rules.append(entry)
        groups.append({"name": group.name, "interval": str(group.interval), "rules": rules})
    return {"groups": groups}


def expected_tests(runs: list[AlertRun], series: list[Series]) -> dict[str, Any]:
    """One alert_rule_test per alert and step, expecting what the backtest found firing."""
    tests = []
    for run in runs:
        for k in range(STEPS + 1):
            t = k * STEP
            firing = [e for e in run.episodes if e.firing <= t and (e.resolved is None or t < e.resolved)]
            exp = [{"exp_labels": {n: v for n, v in e.labels if n != "alertname"}} for e in firing]
            tests.append({"eval_time": f"{k}m", "alertname": run.alert, "exp_alerts": exp})
    return {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": _selector(m, labels), "values": promtool_values(values)}
                    for m, labels, _, values in series
                ],
                "alert_rule_test": tests,
            }
        ],
    }


@pytest.fixture(scope="module")
def prod() -> EnvIR:
    return compile_spec(load_spec(SPEC), tests=False).env("prod")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_backtest_episodes_equal_promtool_on_random_history(prod: EnvIR, seed: int, tmp_path: Path) -> None:
    promtool = require("promtool")
    require("prometheus")
    series = history(seed)
    om = tmp_path / "history.om"
    om.write_text(openmetrics(series))
    with openmetrics_server(om) as source:
        cache: dict[str, Matrix] = {}

        def query(expr: str) -> Matrix:
            if expr not in cache:
                cache[expr] = query_range(source.client(), expr, 0, STEPS * STEP, STEP)
            return cache[expr]

        runs = [run_alert(prod, alert, query, 0, STEPS * STEP) for alert in prod.alerts]
    fired = {r.alert for r in runs if r.episodes}
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules_file(prod), sort_keys=False))
    done = _promtool(promtool, tmp_path, expected_tests(runs, series))
    assert done.returncode == 0, (fired, done.stdout[-3000:], done.stderr[-3000:])
    # The history must exercise the kinds the proof is about, or it proves nothing.
    assert {"BillingPendingBacklog", "BillingTransactionsFailing", "BillingTransactionFailureRatioHigh"} <= fired
    if seed == 1:  # and promtool must notice an episode that starts one step late
        first = next(r for r in runs if r.episodes)
        first.episodes[0] = dataclasses.replace(first.episodes[0], firing=first.episodes[0].firing + STEP)
        assert _promtool(promtool, tmp_path, expected_tests(runs, series)).returncode == 1


def _promtool(promtool: str, at: Path, tests: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    (at / "test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    return subprocess.run([promtool, "test", "rules", "test.yml"], cwd=at, capture_output=True, text=True, timeout=120)
