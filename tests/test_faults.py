"""Production-fault scenario families: each is generated in every environment, passes on
the deployed rules, and fails on the rules shipped before the families existed
(`tests/fixtures/rules_before_faults/`: exact counting with `group(metric offset W)`
as the only birth guard, and gauges read by instant selectors), which paged falsely
when a replica returned and went blind or silent through crash loops, failed scrapes,
restarts and outages."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import OUTPUT, ROOT, copied, require, run_cli
from rulesgen.model.series import LOOKBACK
from rulesgen.promql import Duration
from rulesgen.testgen.families import FAMILIES, faults

BEFORE = ROOT / "tests" / "fixtures" / "rules_before_faults" / "prod"

# (alert, family): the families the rules shipped before fail, per alert. A family
# absent here for an alert passes on the old rules too (a ratio whose two sides both
# count a new pod's lifetime totals keeps its ratio; a new pod counting from zero
# reads the same either way) or is not generated for it (no burst level to kill a
# pod right after).
FAILS_BEFORE = [
    ("BillingContractEventsFailing", "failed_scrapes"),
    ("BillingContractEventsFailing", "replica_returns"),
    ("BillingContractEventsFailing", "crash_loop"),
    ("BillingContractEventsFailing", "killed_after_failing"),
    ("BillingContractEventsFailing", "new_pod_with_lifetime_totals"),
    ("BillingContractEventsFailing", "prometheus_restart"),
    ("BillingContractEventsFailing", "exporter_outage"),
    ("BillingContractEventsFailing", "new_metric_family"),
    ("BillingMainnetNetworkFailures", "failed_scrapes"),
    ("BillingMainnetNetworkFailures", "replica_returns"),
    ("BillingMainnetNetworkFailures", "crash_loop"),
    ("BillingMainnetNetworkFailures", "killed_after_failing"),
    ("BillingMainnetNetworkFailures", "new_pod_with_lifetime_totals"),
    ("BillingMainnetNetworkFailures", "prometheus_restart"),
    ("BillingMainnetNetworkFailures", "exporter_outage"),
    ("BillingMainnetNetworkFailures", "new_metric_family"),
    ("BillingContractEventsFailing", "replica_returns_during_breach"),
    ("BillingMainnetNetworkFailures", "replica_returns_during_breach"),
    ("BillingTransactionFailureRatioHigh", "replica_returns_during_breach"),
    ("BillingTransactionsErrorBudgetBurn", "replica_returns_during_breach"),
    ("BillingTransactionsFailing", "replica_returns_during_breach"),
    ("NodeCacheHitRatioLow", "replica_returns_during_breach"),
    ("BillingPendingBacklog", "gauge_failed_scrapes"),
    ("BillingPendingBacklog", "gauge_target_gone"),
    ("BillingPendingBacklog", "gauge_ha_replicas"),
    ("BillingSubscriptionChurnHigh", "gauge_target_gone"),
    ("RedisMemoryHigh", "gauge_target_gone"),
    ("BillingSubscriptionChurnHigh", "gauge_failed_scrapes"),
    ("BillingTransactionFailureRatioHigh", "failed_scrapes"),
    ("BillingTransactionFailureRatioHigh", "prometheus_restart"),
    ("BillingTransactionFailureRatioHigh", "exporter_outage"),
    ("BillingTransactionFailureRatioHigh", "new_metric_family"),
    ("BillingTransactionsErrorBudgetBurn", "crash_loop"),
    ("BillingTransactionsErrorBudgetBurn", "new_pod_with_lifetime_totals"),
    ("BillingTransactionsErrorBudgetBurn", "prometheus_restart"),
    ("BillingTransactionsErrorBudgetBurn", "exporter_outage"),
    ("BillingTransactionsErrorBudgetBurn", "new_metric_family"),
    ("BillingTransactionsFailing", "failed_scrapes"),
    ("BillingTransactionsFailing", "replica_returns"),
    ("BillingTransactionsFailing", "crash_loop"),
    ("BillingTransactionsFailing", "killed_after_failing"),
    ("BillingTransactionsFailing", "new_pod_with_lifetime_totals"),
    ("BillingTransactionsFailing", "prometheus_restart"),
    ("BillingTransactionsFailing", "exporter_outage"),
    ("BillingTransactionsFailing", "new_metric_family"),
    ("NodeCacheHitRatioLow", "failed_scrapes"),
    ("NodeCacheHitRatioLow", "prometheus_restart"),
    ("NodeCacheHitRatioLow", "exporter_outage"),
    ("NodeCacheHitRatioLow", "new_metric_family"),
    ("RedisMemoryHigh", "gauge_failed_scrapes"),
    # Their `x - x offset W >= 0` dropped the negative difference of two lives and
    # counted the new life whole: a count's value wrong (a ratio's right, so the ratios
    # pass; a `resets()` that does not reach `x offset W` fails every one, see below).
    ("BillingContractEventsFailing", "restart_before_window"),
    ("BillingMainnetNetworkFailures", "restart_before_window"),
    ("BillingTransactionsErrorBudgetBurn", "restart_before_window"),
    ("BillingTransactionsFailing", "restart_before_window"),
    # No rule of the old ones watched a mainnet's series: the guard did not exist, and
    # BillingMetricsAbsent stays silent while any series remains (see below).
    ("BillingTransactionsTotalMissingPerNetwork", "scope_gone_while_others_remain"),
    ("BillingTransactionsTotalMissingPerNetwork", "metric_renamed"),
]


def group(env: str, alert: str, family: str) -> tuple[str, dict[str, Any]]:
    """The evaluation interval and the test group of `family` in the alert's main test file."""
    doc = yaml.safe_load((OUTPUT / env / "tests" / f"{alert}.promtool-test.yaml").read_text())
    found = [g for g in doc["tests"] if g["name"] == f"{alert}/{family}"]
    assert found, f"{alert} has no {family} scenario in {env}"
    return doc["evaluation_interval"], found[0]


def failing_groups(rules: Path, interval: str, tests: list[dict[str, Any]], tmp_path: Path) -> set[str]:
    """The test groups promtool fails with `rules` (one run for them all)."""
    path = tmp_path / f"{rules.parent.name}-{rules.name}.yaml"
    files = [str(p) for p in sorted(rules.glob("*.rules.yml"))]
    path.write_text(yaml.safe_dump({"rule_files": files, "evaluation_interval": interval, "tests": tests}))
    proc = subprocess.run(
        [require("promtool"), "test", "rules", str(path)], capture_output=True, text=True, check=False, timeout=600
    )
    failed = set(re.findall(r"^\s*name: (\S+),$", proc.stderr, flags=re.M))
    # A run that neither succeeded nor named a failing group did not run the tests.
    assert ("SUCCESS" in proc.stdout) != bool(failed), proc.stdout + proc.stderr
    return {name.split("/", 1)[1] for name in failed}


ALERTS = sorted({alert for alert, _ in FAILS_BEFORE})


@pytest.mark.parametrize("alert", ALERTS)
def test_families_pass_on_the_deployed_rules_and_fail_on_the_old_ones(alert: str, tmp_path: Path) -> None:
    families = sorted(f for a, f in FAILS_BEFORE if a == alert)
    picked = [group("prod", alert, f) for f in families]
    interval, tests = picked[0][0], [test for _, test in picked]
    assert failing_groups(OUTPUT / "prod" / "prometheus", interval, tests, tmp_path) == set()
    assert failing_groups(BEFORE, interval, tests, tmp_path) == set(families)


@pytest.mark.parametrize("env", ["prod", "staging"])
def test_every_family_is_generated_in_every_environment(env: str) -> None:
    names = {f.name for f in FAMILIES if f.build.__module__ == faults.__name__}
    seen = set()
    for path in (OUTPUT / env / "tests").glob("*.promtool-test.yaml"):
        seen |= {g["name"].split("/", 1)[1] for g in yaml.safe_load(path.read_text())["tests"]}
    # A family at each `for` edge names its scenarios after the edge (`..._every_5m`).
    missing = {n for n in names - seen if not any(s.startswith(f"{n}_") and "_every_" in s for s in seen)}
    assert not missing, missing
    for alert, family in FAILS_BEFORE:
        if (OUTPUT / env / "tests" / f"{alert}.promtool-test.yaml").exists():
            group(env, alert, family)


# The exact clause's reset guard, `resets(x[W + 5m])`: it reads back to the sample
# `x offset W` may be (a lookback before the window). Cut to `x[W]`, a restart between
# that sample and the window's first is hidden and the negative difference of two lives
# is taken for the window's events.
RESET_GUARD = re.compile(r" - ([^ ]+) offset (\w+)\) unless resets\(\1\[\w+\]\) > 0")
RESTARTED = [
    "BillingContractEventsFailing",
    "BillingMainnetNetworkFailures",
    "BillingTransactionFailureRatioHigh",
    "BillingTransactionsErrorBudgetBurn",
    "BillingTransactionsFailing",
    "NodeCacheHitRatioLow",
]


def test_every_counting_alert_proves_a_restart_hidden_before_the_window() -> None:
    generated = {
        path.name.split(".")[0]
        for path in (OUTPUT / "prod" / "tests").glob("*.promtool-test.yaml")
        if any(g["name"].endswith("/restart_before_window") for g in yaml.safe_load(path.read_text())["tests"])
    }
    assert generated == set(RESTARTED)


def _window_only(match: re.Match[str]) -> str:
    return f" - {match[1]} offset {match[2]}) unless resets({match[1]}[{match[2]}]) > 0"


@pytest.mark.parametrize("alert", RESTARTED)
def test_a_restart_before_the_window_fails_rules_whose_reset_guard_reads_the_window_only(
    alert: str, tmp_path: Path
) -> None:
    interval, test = group("prod", alert, "restart_before_window")
    assert failing_groups(OUTPUT / "prod" / "prometheus", interval, [test], tmp_path) == set()
    short = tmp_path / "short"
    short.mkdir()
    for path in sorted((OUTPUT / "prod" / "prometheus").glob("*.rules.yml")):
        text, found = RESET_GUARD.subn(_window_only, path.read_text())
        assert found == text.count("resets("), path  # every counting record's guard cut
        (short / path.name).write_text(text)
    assert failing_groups(short, interval, [test], tmp_path) == {"restart_before_window"}


def _twice_as_far(match: re.Match[str]) -> str:
    far = Duration.parse(match[2]) + LOOKBACK
    return f" - {match[1]} offset {match[2]}) unless resets({match[1]}[{far + far}]) > 0"


# A count's value (and, above a threshold of 0, what fires) depends on the guard reading
# no further back than it must; ratios scale both sides alike and keep theirs.
COUNTS = ["BillingContractEventsFailing", "BillingMainnetNetworkFailures", "BillingTransactionsFailing"]


@pytest.mark.parametrize("alert", COUNTS)
def test_a_restart_older_than_the_guard_fails_rules_whose_guard_reads_further(alert: str, tmp_path: Path) -> None:
    interval, test = group("prod", alert, "restarted_while_idle")
    assert failing_groups(OUTPUT / "prod" / "prometheus", interval, [test], tmp_path) == set()
    far = tmp_path / "far"
    far.mkdir()
    for path in sorted((OUTPUT / "prod" / "prometheus").glob("*.rules.yml")):
        (far / path.name).write_text(RESET_GUARD.sub(_twice_as_far, path.read_text()))
    assert failing_groups(far, interval, [test], tmp_path) == {"restarted_while_idle"}


def test_the_absent_alert_alone_is_blind_to_a_mainnet_gone(tmp_path: Path) -> None:
    """The guard's scenario against the old rules' only absence alert: a mainnet's series
    gone while the other mainnet and the testnets remain leaves BillingMetricsAbsent
    silent at every check where the guard pages."""
    interval, test = group("prod", "BillingTransactionsTotalMissingPerNetwork", "scope_gone_while_others_remain")
    checks = test["alert_rule_test"]
    assert any(check["exp_alerts"] for check in checks)
    test["alert_rule_test"] = [{**check, "alertname": "BillingMetricsAbsent", "exp_alerts": []} for check in checks]
    assert failing_groups(BEFORE, interval, [test], tmp_path) == set()


def test_values_outside_the_mainnet_set_are_made_visible(tmp_path: Path) -> None:
    """`base` (a mainnet nobody declared), `Polygon` (case) and a series with no network
    label page no billing alert; BillingUnknownNetwork's expression returns each of
    them, and none of the declared mainnets and testnets."""
    rules = yaml.safe_load((OUTPUT / "prod" / "prometheus" / "billing.rules.yml").read_text())
    expr = next(r["expr"] for g in rules["groups"] for r in g["rules"] if r.get("alert") == "BillingUnknownNetwork")
    target = 'instance="a:1",job="app",status="failed",token="usdc"'
    networks = ["base", "Polygon", None, "polygon", "polygon-amoy", "arbitrum-sepolia"]
    series = [
        {"series": f"billing_transactions_total{{{target}" + (f',network="{n}"' if n else "") + "}", "values": "1+1x30"}
        for n in networks
    ]
    samples = [{"labels": f'{{network="{n}"}}' if n else "{}", "value": 1} for n in ("base", "Polygon", None)]
    test = {
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [{"expr": expr, "eval_time": "20m", "exp_samples": samples}],
            }
        ],
    }
    path = tmp_path / "unknown.yaml"
    path.write_text(yaml.safe_dump(test))
    proc = subprocess.run(
        [require("promtool"), "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "SUCCESS" in proc.stdout, proc.stdout + proc.stderr


def test_a_replica_returning_at_the_6h_30m_tiers_edge_catches_a_birth_guard_on_no_target(
    generated: Path, tmp_path: Path
) -> None:
    """The 30m window's births guarded by `up` of any target (`on()`) rather than the
    series' own take in a returning replica's healthy lifetime totals: the tier's short
    window reads healthy and stops paging. Only the edge's 5m evaluation sees it (the
    births last 30m; the alert's own evaluation is hourly)."""
    require("promtool")
    out = copied(generated, tmp_path)
    rules = out / "prod" / "prometheus" / "billing.rules.yml"
    guard = "offset 30m) and on(job, instance) (up offset 30m == 1)"
    text = rules.read_text()
    assert text.count(guard) == 1
    rules.write_text(text.replace(guard, guard.replace("on(job, instance)", "on()")))
    argv = ["test", "--output", str(out), "--env", "prod", "--alert", "BillingTransactionsErrorBudgetBurn"]
    done = run_cli(*argv, "--format", "json", env={"RULESGEN_CACHE_DIR": "off"})
    assert done.returncode == 1, done.stdout + done.stderr
    failed = [f for a in json.loads(done.stdout)["alerts"] for f in a["failed"]]
    assert failed == ["replica_returns_at_edge_page_6h_30m_for_15m_every_5m"]
