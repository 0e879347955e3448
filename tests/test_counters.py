"""Counters are counted exactly: the evaluation model's semantics, and the generated
scenarios that prove the rules follow them (births, fresh starts, resets, samples out
of step with evaluation)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import OUTPUT, minimal_text, require, run_cli
from rulesgen.lower.alerts import AlertCompiler
from rulesgen.model.series import Group, SeriesSet
from rulesgen.pipeline import build_text
from rulesgen.promql import Duration, Matcher
from rulesgen.spec.validate import parse_spec
from rulesgen.testgen.planner import plan_scenarios
from rulesgen.testgen.simulation import Plan

FIVE_MINUTES = Duration.parse("5m")
POLYGON = (Matcher("network", ("polygon",)),)


def counted(sim: SeriesSet, births: bool = True) -> list[float | None]:
    """The model's exact count per step, summed over the polygon series (None: no sample)."""
    groups = sim.increase("failed_total", POLYGON, (), FIVE_MINUTES, births)
    return [g.get((), None) for g in groups]


TARGET = {"job": "app", "instance": "replica-a:8080"}


def test_a_series_born_inside_the_window_counts_its_first_value() -> None:
    sim = SeriesSet(Duration.parse("1m"), 14)
    sim.put("failed_total", {**TARGET, "network": "polygon", "token": "usdc"}, [0.0] * 14)
    sim.put("failed_total", {**TARGET, "network": "polygon", "token": "dai"}, [None] * 8 + [1.0] * 6)
    got = counted(sim)
    # Born at 8m with 1 on a target scraped all along: counted until a window later,
    # when the difference takes over.
    assert got[8:13] == [1.0] * 5
    assert got[13] == 0.0
    # Exporters that initialize series to 0: the first value is not an event.
    assert counted(sim, births=False)[8:13] == [0.0] * 5


def test_a_series_without_its_target_up_a_window_ago_is_not_born() -> None:
    """A replica back after failed scrapes (`up` 0 a window ago) brings its lifetime
    total: only what it grows by counts, through increase()."""
    sim = SeriesSet(Duration.parse("1m"), 14)
    other = {"job": "app", "instance": "replica-b:8080"}
    sim.put("failed_total", {**TARGET, "network": "polygon"}, [0.0] * 14)
    stale = float("nan")
    sim.put("failed_total", {**other, "network": "polygon"}, [300.0] * 4 + [stale, stale] + [300.0] * 8)
    got = counted(sim)
    assert got[6:] == [0.0] * 8  # the 300 lifetime failures never count


def test_a_crash_loop_counts_every_life() -> None:
    """A worker restarting every 2 minutes with 3 failures a life: differences see one
    life, increase() sees them all."""
    sim = SeriesSet(Duration.parse("1m"), 16)
    sim.put("failed_total", {**TARGET, "network": "polygon"}, [0.0] * 6 + [3.0, 6.0] * 5)
    got = counted(sim)
    assert got[15] is not None and got[15] >= 12.0


def test_a_fresh_prometheus_does_not_count_lifetime_totals() -> None:
    sim = SeriesSet(Duration.parse("1m"), 12)
    sim.put("failed_total", {**TARGET, "network": "polygon"}, [None] * 3 + [500.0 + i for i in range(9)])
    got = counted(sim)
    # Nothing was scraped a window before 3m..7m: only growth counts (increase(),
    # extrapolated to the window), never the 500 the counter had reached.
    assert got[3] is None
    assert all(v is not None and 0 < v <= 5 for v in got[4:8])
    # Then the exact difference: one event a minute.
    assert got[8:] == [5.0] * 4


def test_a_reset_counts_only_the_events_since_it() -> None:
    sim = SeriesSet(Duration.parse("1m"), 12)
    sim.put("failed_total", {**TARGET, "network": "polygon"}, [100.0] * 6 + [0.0, 0.0, 2.0, 2.0, 2.0, 2.0])
    got = counted(sim)
    assert got[6:8] == [0.0, 0.0]  # a reset with no new events is silent
    assert got[8:11] == [2.0, 2.0, 2.0]  # the difference is negative: the value since the reset
    assert got[11] == 2.0  # a window after the reset: the plain difference


def test_samples_out_of_step_are_counted_exactly() -> None:
    # Scraped every minute at :30, evaluated every minute at :00; 5 events in every 5m.
    sim = SeriesSet(Duration.parse("30s"), 40, every=2)
    values = [float(sum(1 for k in range(i) if k % 10 < 5)) for i in range(40)]
    sim.put("failed_total", {"network": "polygon"}, [v if i % 2 else None for i, v in enumerate(values)])
    got = [v for i, v in enumerate(counted(sim)) if i % 2 == 0 and i >= 22]
    assert got == [5.0] * len(got)


def scenario(alert: str, name: str) -> dict[str, Any]:
    doc = yaml.safe_load((OUTPUT / "prod" / "tests" / f"{alert}.promtool-test.yaml").read_text())
    found: dict[str, Any] = next(t for t in doc["tests"] if t["name"] == f"{alert}/{name}")
    return found


def test_a_first_failure_on_a_new_mainnet_series_pages() -> None:
    born = scenario("BillingMainnetNetworkFailures", "born_in_window")
    series = {s["series"]: s["values"] for s in born["input_series"]}
    new = next(v for k, v in series.items() if "rulesgen_series" not in k)
    assert new.split()[0].startswith("_") and new.split()[1].split("+")[0] == "1"  # born with its first failure
    assert any(c["exp_alerts"] for c in born["alert_rule_test"])


def test_exactly_the_threshold_out_of_step_does_not_page() -> None:
    out = scenario("BillingTransactionsFailing", "out_of_step")
    assert out["interval"] == "30s"
    checks = out["alert_rule_test"]
    assert len(checks) > 10 and not any(c["exp_alerts"] for c in checks)


def test_every_counter_kind_proves_births_resets_and_sampling() -> None:
    for alert in (
        "BillingTransactionsFailing",
        "BillingMainnetNetworkFailures",
        "BillingContractEventsFailing",
        "BillingTransactionFailureRatioHigh",
        "NodeCacheHitRatioLow",
        "BillingTransactionsErrorBudgetBurn",
    ):
        for name in ("born_in_window", "fresh_start", "reset", "out_of_step"):
            assert scenario(alert, name)["alert_rule_test"], (alert, name)


KIND_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kinds"


def fixture_plans(kind: str, **fields: Any) -> dict[str, Plan]:
    """The scenarios of a kind fixture's alert, with `fields` changed (None: removed)."""
    data = yaml.safe_load((KIND_FIXTURES / kind / "spec.yaml").read_text())
    alert = data["alerts"][0]
    alert.update(fields)
    data["alerts"] = [{k: v for k, v in alert.items() if v is not None}]
    doc = parse_spec(yaml.safe_dump(data, sort_keys=False), "spec.yaml")
    metric_labels = {name: metric.labels for name, metric in doc.header.metrics.items()}
    plans = plan_scenarios(doc.alerts[0], AlertCompiler(doc).resolve, doc.header.label_sets, metric_labels)
    return {plan.name: plan for plan in plans}


def lifetime_totals(plan: Plan) -> list[float]:
    """The value each counter of a fresh start appears with, asserting it never grows
    after (no new events): its runs are no samples, then one value held to the end."""
    totals = []
    for series in plan.series:
        if series.metric == "up":
            continue
        gap, held = series.runs
        assert gap.start is None and held.start is not None and held.delta == 0, series
        totals.append(held.start)
    return totals


# Healthy traffic at these counts a 5m window is uneven from one minute to the next
# (6 is 2, 1, 1, 1, 1), which increase() extrapolates past the count where a fresh
# Prometheus has no window of history: the scenarios that must stay silent leave it out.
@pytest.mark.parametrize("threshold", [3, 6, 9])
def test_uneven_healthy_traffic_at_the_threshold_gets_counter_scenarios(threshold: int) -> None:
    plans = fixture_plans("counter_increase", threshold=threshold, window="5m", **{"for": None})
    assert plans["out_of_step"].checks and not any(c.firing for c in plans["out_of_step"].checks)
    fresh = plans["fresh_start"]
    assert not any(c.firing for c in fresh.checks)
    assert min(lifetime_totals(fresh)) > threshold


def test_a_fresh_start_checks_every_evaluation_a_rule_counting_totals_would_page_at() -> None:
    """With `for: 2m` a rule counting the lifetime totals pages two evaluations after the
    start, until its 5m window reaches back past it: every one of them is checked."""
    fresh = fixture_plans("counter_increase")["fresh_start"]
    start = next(s.runs[0].count for s in fresh.series if s.runs[0].start is None)
    assert {start + 2, start + 5, start + 7} <= {c.step for c in fresh.checks}


def test_a_burn_rate_fresh_start_holds_lifetime_totals() -> None:
    """A burn rate opens its scenarios with idle counters: the fresh start must not, or
    its totals are 0 and a rule counting them whole stays silent too."""
    fresh = fixture_plans("burn_rate")["fresh_start"]
    assert min(lifetime_totals(fresh)) > 0


def test_the_latency_baseline_reads_raw_buckets() -> None:
    """A freshly deployed record has no history a week back: the baseline must not read it."""
    rules = yaml.safe_load((OUTPUT / "prod" / "prometheus" / "platform.rules.yml").read_text())
    expr = next(r["expr"] for g in rules["groups"] for r in g["rules"] if r.get("alert") == "ApiLatencyRegression")
    assert "p95_rate5m{" in expr and "p95_rate5m offset" not in expr and "p95_rate5m{route" in expr
    assert 'rate(http_request_duration_seconds_bucket{route=~"/v1/nodes|/v1/notifications"}[5m] offset 1w)' in expr
    fresh = scenario("ApiLatencyRegression", "fresh_deploy")
    assert any(c["exp_alerts"] for c in fresh["alert_rule_test"])


def test_records_select_the_union_of_their_readers_and_coarse_records_sum_finer_ones() -> None:
    text = minimal_text().replace(
        'denominator: [{metric: "tx_total"}]',
        'denominator: [{metric: "tx_total", matchers: {status: ["failed", "ok"]}}]',
    )
    rules = yaml.safe_load(build_text(text, tests=False)["prod/prometheus/billing.rules.yml"])["groups"][0]["rules"]
    exprs = {r["record"]: r["expr"] for r in rules if "record" in r}
    # TxFailing keeps network and status; TxRatio sums by status: it derives from that
    # record, which reads what both need (failed, and failed or ok).
    assert exprs["network_status:tx:increase5m"].startswith('sum by (network, status) (((tx_total{status=~"failed|ok"}')
    assert exprs["status:tx:increase5m"] == "sum by (status) (network_status:tx:increase5m)"
    names = [r["record"] for r in rules if "record" in r]
    assert names.index("network_status:tx:increase5m") < names.index("status:tx:increase5m")


def test_generated_tests_pass_on_derived_records(tmp_path: Path) -> None:
    require("promtool")
    spec = tmp_path / "thresholds.yaml"
    spec.write_text(minimal_text())
    out = tmp_path / "output"
    assert run_cli("generate", "--spec", str(spec), "--output", str(out)).returncode == 0
    rules = (out / "prod" / "prometheus" / "billing.rules.yml").read_text()
    # The denominator reads every series: the coarser record is derived from the finer
    # one, and `rulesgen test` takes both into the ratio's rule closure.
    assert '"sum (network_status:tx:increase5m)"' in rules
    assert '"sum by (network, status) (((tx_total unless tx_total offset 5m' in rules
    result = run_cli("test", "--spec", str(spec), "--output", str(out))
    assert result.returncode == 0, result.stdout + result.stderr


def _shipped_record(name: str) -> str:
    groups = yaml.safe_load((OUTPUT / "prod" / "prometheus" / "billing.rules.yml").read_text())["groups"]
    return str(next(r["expr"] for g in groups for r in g["rules"] if r.get("record") == name))


def _promtool_records_hold(
    tmp_path: Path, sim: SeriesSet, records: tuple[str, ...], counts: list[Group], evaluation: str
) -> None:
    """promtool, evaluating the shipped `records` every `evaluation` on `sim`'s series,
    holds at each evaluation step `i` what the model counted per status (`counts[i]`)
    in the last of them, on polygon."""
    from rulesgen.targets.promtool_notation import series_text, values_text
    from rulesgen.testgen.samples import runs_of

    rules = {"groups": [{"name": "agree", "rules": [{"record": r, "expr": _shipped_record(r)} for r in records]}]}
    checks = [
        {
            "expr": f'sum by (status) ({records[-1]}{{network="polygon"}})',
            "eval_time": str(Duration(i * sim.step.ms)),
            "exp_samples": [{"labels": f'{{status="{k[0][1]}"}}', "value": v} for k, v in sorted(counts[i].items())],
        }
        for i in sim.evaluated()
    ]
    series = [
        {"series": series_text(s.metric, s.labels), "values": values_text(runs_of(s.samples))}
        for s in sim.with_targets()
    ]
    test = {"interval": str(sim.step), "input_series": series, "promql_expr_test": checks}
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    doc = {"rule_files": ["rules.yml"], "evaluation_interval": evaluation, "tests": [test]}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(doc))
    result = subprocess.run(["promtool", "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr


def test_hourly_tiles_agree_with_promtool_at_every_evaluation(tmp_path: Path) -> None:
    """The burn-rate ticket windows sum whole hours of the exact 1h count: the model's
    `tiled` equals what promtool's real records hold at every 5-minute evaluation
    (a birth, a reset and a failed scrape included), and lags the raw 2h count
    between whole hours, as it should."""
    require("promtool")
    hour, tiled_name = Duration.parse("1h"), "network_status:billing_transactions:increase2h_tiled1h"
    sim = SeriesSet(Duration.parse("5m"), 60)
    labels = {**TARGET, "network": "polygon", "status": "failed"}
    stale = float("nan")
    history = [float(i // 3) for i in range(30)] + [0.0, 1.0, 2.0, stale] + [3.0 + i for i in range(26)]
    sim.put("billing_transactions_total", labels, history)
    sim.put("billing_transactions_total", {**labels, "status": "succeeded"}, [None] * 20 + [4.0] * 40)
    matchers = (Matcher("network", ("polygon",)),)
    by = ("status",)
    tiled = sim.tiled(sim.increase("billing_transactions_total", matchers, by, hour), Duration.parse("2h"), hour)
    raw = sim.increase("billing_transactions_total", matchers, by, Duration.parse("2h"))
    assert any(tiled[i] != raw[i] for i in range(24, 60)), "the tiles never lag: the check below proves nothing"
    records = ("network_status:billing_transactions:increase1h", tiled_name)
    _promtool_records_hold(tmp_path, sim, records, tiled, "5m")


def test_a_restart_hidden_before_the_window_agrees_with_promtool(tmp_path: Path) -> None:
    """Scraped every minute at :30 and evaluated on the minute, a worker restarts between
    the sample before a window's start (`x offset 5m`) and the first sample in it, where
    `resets(x[5m])` would not look (the shipped guard reads `x[10m]`). The model sends the series to increase() there, and
    its count equals what promtool's real record holds at every evaluation (a birth, a
    failed scrape and a restart inside the window included)."""
    require("promtool")
    record = "network_status:billing_transactions:increase5m"
    sim = SeriesSet(Duration.parse("30s"), 80, every=2)
    labels = {**TARGET, "network": "polygon", "status": "failed"}
    failed: list[float | None] = [None] * 80
    value = 1000.0  # the lifetime total Prometheus first saw
    for j in range(1, 80, 2):
        # Restarts at :30 of minutes 10 and 20 (hidden from the windows that start just
        # before them) and of minute 33 (inside the windows that follow it).
        value = {21: 1.0, 41: 0.0, 67: 2.0}.get(j, value + j % 3)
        failed[j] = value
    failed[55] = float("nan")  # a failed scrape
    sim.put("billing_transactions_total", labels, failed)
    born = [None] * 30 + [4.0 if j % 2 else None for j in range(30, 80)]
    sim.put("billing_transactions_total", {**labels, "status": "succeeded"}, born)
    by = ("status",)
    got = sim.increase("billing_transactions_total", POLYGON, by, FIVE_MINUTES)
    for t, now, before in ((30, 29, 19), (50, 49, 39)):
        # The difference of two lives is negative: the form without the guard took it.
        exact = failed[now], failed[before]
        assert exact[0] is not None and exact[1] is not None and exact[0] < exact[1]
        assert got[t][(("status", "failed"),)] >= 0
    _promtool_records_hold(tmp_path, sim, (record,), got, "1m")
