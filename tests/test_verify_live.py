"""`rulesgen verify` against real servers, never mocks: Prometheus 2.42 and Alertmanager
0.25 started from `output/prod` and scraping the shared platform exporter, and
VictoriaMetrics as a second Prometheus-compatible API.

A clean stack (the healthy platform, the generated rules and Alertmanager config, the
default retention) gives no finding at all. A faulty stack holds every seeded fault at
once, each a real server state, and each table row asserts the finding that fault must
produce; both stacks are module-scoped, so each server starts once."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import OUTPUT, run_cli
from rulesgen.cli import main
from rulesgen.verify.engines import (
    HEALTHY_PLATFORM,
    Alertmanager,
    Exporter,
    Family,
    Prometheus,
    VictoriaMetrics,
    free_port,
    series,
)

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("prometheus", "prometheus-alertmanager", "victoria-metrics")),
    reason="prometheus, prometheus-alertmanager and victoria-metrics are not installed (make test installs them)",
)

PROD = OUTPUT / "prod"
LIFETIME = 120.0


def verify(*args: str) -> tuple[int, dict[str, Any]]:
    """`rulesgen verify --format json` in-process: its exit code and report."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["verify", "--output", str(OUTPUT), "--env", "prod", "--format", "json", *args])
    return code, json.loads(out.getvalue())


def _families(changes: dict[str, Family | None], extra: tuple[Family, ...] = ()) -> tuple[Family, ...]:
    out = [changes.get(f.name, f) for f in HEALTHY_PLATFORM]
    return (*(f for f in out if f is not None), *extra)


def _relabel(family: Family, old: str, new: str) -> Family:
    return replace(family, samples={k.replace(old, new): v for k, v in family.samples.items()})


def faulty_platform() -> tuple[Family, ...]:
    by_name = {f.name: f for f in HEALTHY_PLATFORM}
    transactions = by_name["billing_transactions_total"]
    return _families(
        {
            # Polygon renamed on one metric: the mainnet alert never pages for it.
            "billing_transactions_network_failed_total": _relabel(
                by_name["billing_transactions_network_failed_total"], '"polygon"', '"polygon-pos"'
            ),
            # A new network nobody declared.
            "billing_transactions_total": replace(
                transactions,
                samples={
                    **transactions.samples,
                    series("billing_transactions_total", network="optimism", source="api", status="failed"): 1.0,
                },
            ),
            # A counter exposed as a gauge.
            "billing_contract_events_total": replace(by_name["billing_contract_events_total"], type="gauge"),
            # The exporter stopped exposing a metric.
            "redis_keyspace_misses_total": None,
            # Redis hit counts from a job scraped every 2m: a 5m window holds 2.5 scrapes.
            "redis_keyspace_hits_total": Family(
                "redis_keyspace_hits_total",
                "counter",
                {series("redis_keyspace_hits_total", instance="redis-1", job="slow"): 99},
            ),
            # 19 pending on each network: within 10% of `> 20`.
            "billing_transactions_network_pending_total": replace(
                by_name["billing_transactions_network_pending_total"],
                samples=dict.fromkeys(by_name["billing_transactions_network_pending_total"].samples, 19),
            ),
            # Churn above 0.2: pending (for 15m) as soon as the group runs.
            "billing_subscriptions_churn_ratio": Family(
                "billing_subscriptions_churn_ratio", "gauge", {"billing_subscriptions_churn_ratio": 0.5}
            ),
        }
    )


def stale_rules(tmp: Path) -> list[Path]:
    """Last week's billing rules, edited by hand on the server; platform's never loaded."""
    doc = yaml.safe_load((PROD / "prometheus" / "billing.rules.yml").read_text())
    group = doc["groups"][0]
    group["interval"] = "1s"
    rules = group["rules"]
    by_alert = {r.get("alert"): r for r in rules if "alert" in r}
    by_alert["BillingPendingBacklog"]["expr"] = by_alert["BillingPendingBacklog"]["expr"].replace("> 20", "> 30")
    by_alert["BillingTransactionsFailing"]["for"] = "2m"
    rules.remove(by_alert["BillingContractEventsFailing"])
    rules.append({"alert": "HandWritten", "expr": "vector(0) > 1"})
    path = tmp / "billing.rules.yml"
    path.write_text(yaml.safe_dump(doc))
    return [path]


def older_alertmanager() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((PROD / "alertmanager" / "alertmanager.yml").read_text())
    doc["route"]["routes"][0]["routes"][1]["repeat_interval"] = "3h"
    doc["inhibit_rules"] = doc["inhibit_rules"][:2]
    return doc


@pytest.fixture(scope="module")
def clean() -> Iterator[tuple[Prometheus, Alertmanager]]:
    with (
        Exporter(HEALTHY_PLATFORM) as exporter,
        Alertmanager(PROD / "alertmanager" / "alertmanager.yml", lifetime=LIFETIME) as am,
        Prometheus(
            scrape=[exporter.target],
            rule_files=sorted((PROD / "prometheus").glob("*.yml")),
            alertmanagers=[f"127.0.0.1:{am.port}"],
            lifetime=LIFETIME,
        ) as prom,
    ):
        yield prom, am


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("faulty")
    slow = {"job_name": "slow", "scrape_interval": "2m", "static_configs": [{"targets": [f"127.0.0.1:{free_port()}"]}]}
    with (
        Exporter(faulty_platform()) as exporter,
        Alertmanager(older_alertmanager(), lifetime=LIFETIME) as am,
        Prometheus(
            scrape=[exporter.target],
            rule_files=stale_rules(tmp),
            jobs=[slow],
            flags=["--storage.tsdb.retention.time=2d"],
            lifetime=LIFETIME,
        ) as prom,
    ):
        prom.wait_for('ALERTS{alertname="BillingSubscriptionChurnHigh"}')
        code, report = verify("--prometheus", prom.url, "--alertmanager", am.url)
        yield {"code": code, "findings": report["findings"]}


def test_a_clean_stack_gives_no_finding(clean: tuple[Prometheus, Alertmanager]) -> None:
    prom, am = clean
    code, report = verify("--prometheus", prom.url, "--alertmanager", am.url)
    assert report["findings"] == [], report
    assert code == 0
    assert report["notes"] == [
        "0 of 8 alerts with a simple threshold are within 10% of firing "
        "(5 of 13 alerts have compound conditions and were not assessed)"
    ]


# (ID, subject, a phrase of the message): one row per seeded fault.
FAULTS = [
    ("RG301", "redis_keyspace_misses_total", "had none in the last 1w"),
    ("RG303", "billing_transactions_network_failed_total{network}", 'network="polygon"'),
    ("RG304", "billing_transactions_network_failed_total{network}", 'network="polygon-pos"'),
    ("RG304", "billing_transactions_total{network}", 'network="optimism"'),
    ("RG305", "billing_contract_events_total", "a gauge on the server but declared as a counter"),
    ("RG306", "redis_keyspace_hits_total", "2.5 scrape(s) at the 2m scrape interval"),
    # The 3d burn-rate window sums the hourly record at whole hours: the record must reach 3d back.
    (
        "RG307",
        "network_status:billing_transactions:increase1h",
        "2d23h59m59s999ms back, beyond the server's retention of 2d",
    ),
    ("RG307", "http_request_duration_seconds_bucket", "1w5m back"),
    ("RG310", "rulesgen.platform", "rule group rulesgen.platform is not loaded"),
    ("RG310", "BillingContractEventsFailing", "alerting rule BillingContractEventsFailing is not loaded"),
    ("RG311", "HandWritten", "alerting rule HandWritten is loaded in rulesgen.billing but not in output/"),
    (
        "RG312",
        "BillingPendingBacklog",
        "> 30` (output/ has `sum by (network) (max without (instance) "
        "(last_over_time(billing_transactions_network_pending_total[2m]))) > 20`)",
    ),
    ("RG312", "BillingTransactionsFailing", "for 2m (output/ has 1m)"),
    ("RG312", "rulesgen.billing", "evaluated every 1"),
    ("RG313", "alertmanager", "route.routes[0].routes[1].repeat_interval: output/ has '4h', Alertmanager runs '3h'"),
    ("RG313", "alertmanager", "inhibit_rules: output/ has 4 entries, Alertmanager runs 2"),
    (
        "RG313",
        "alertmanager",
        "inhibit_rules[2]: output/ has {'source_matchers': ['alertname=\"BillingTransactionsErrorBudgetBurn\"'",
    ),
    ("RG320", "BillingSubscriptionChurnHigh", "is pending"),
    (
        "RG321",
        "BillingPendingBacklog",
        'BillingPendingBacklog{network="polygon"} is at 19, within 10% of firing (> 20)',
    ),
]


@pytest.mark.parametrize(("code", "subject", "phrase"), FAULTS, ids=[f"{c}-{s}" for c, s, _ in FAULTS])
def test_each_seeded_fault_is_reported(faulty: dict[str, Any], code: str, subject: str, phrase: str) -> None:
    findings = faulty["findings"]
    matching = [f for f in findings if f["code"] == code and f["subject"] == subject]
    assert any(phrase in f["message"] for f in matching), (phrase, matching or findings)
    assert faulty["code"] == 1


@pytest.fixture(scope="module")
def victoria() -> Iterator[VictoriaMetrics]:
    """The healthy platform's last ten minutes, with polygon renamed on one metric, and a
    metric whose samples stop an hour ago."""
    renamed = {
        "billing_transactions_network_failed_total": _relabel(
            {f.name: f for f in HEALTHY_PLATFORM}["billing_transactions_network_failed_total"],
            '"polygon"',
            '"polygon-pos"',
        ),
        "redis_keyspace_misses_total": None,
    }
    now = int(time.time() * 1000)
    lines = [
        f"{name} {value} {at}"
        for family in _families(renamed)
        for name, value in family.samples.items()
        for at in range(now - 600_000, now, 15_000)
    ]
    gone = series("redis_keyspace_misses_total", instance="redis-1")
    lines += [f"{gone} 1 {at}" for at in range(now - 3 * 3600_000, now - 3600_000, 60_000)]
    with VictoriaMetrics(lifetime=LIFETIME) as vm:
        vm.import_lines(lines)
        yield vm


def test_victoria_metrics_serves_the_series_checks(victoria: VictoriaMetrics) -> None:
    code, report = verify("--prometheus", victoria.url, "--skip", "rules", "--min-age", "30m")
    found = {(f["code"], f["subject"]) for f in report["findings"]}
    assert ("RG303", "billing_transactions_network_failed_total{network}") in found, report
    assert ("RG304", "billing_transactions_network_failed_total{network}") in found, report
    gone = [f for f in report["findings"] if f["code"] == "RG302"]
    assert [f["subject"] for f in gone] == ["redis_keyspace_misses_total"], report
    assert "disappeared 5" in gone[0]["message"] or "disappeared 1h" in gone[0]["message"], gone
    # VictoriaMetrics has no retention endpoint: a note, not a failure and not a pass.
    assert ("RG300", "retention") in found, report
    assert code == 1


def test_without_rules_on_the_server_one_finding_says_where_they_may_be(victoria: VictoriaMetrics) -> None:
    code, report = verify("--prometheus", victoria.url, "--skip", "series", "--skip", "retention")
    assert [(f["code"], f["subject"]) for f in report["findings"]] == [("RG310", "rules")], report
    assert "--skip rules" in report["findings"][0]["message"]
    assert code == 1


def test_an_unreachable_server_exits_2_with_one_line() -> None:
    result = run_cli("verify", "--prometheus", f"http://127.0.0.1:{free_port()}", "--env", "prod", "--timeout", "2")
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("rulesgen: cannot reach http://127.0.0.1:")


def test_an_unknown_environment_exits_2(clean: tuple[Prometheus, Alertmanager]) -> None:
    result = run_cli("verify", "--prometheus", clean[0].url, "--env", "qa")
    assert result.returncode == 2
    assert result.stderr.strip().endswith("(environments in output: prod, staging); run `rulesgen generate`"), result


def test_findings_point_at_the_line_of_output_they_are_about(faulty: dict[str, Any]) -> None:
    def line(place: str) -> str:
        file, number = place.rsplit(":", 1)
        return Path(file).read_text().splitlines()[int(number) - 1]

    by_message = {f["message"].split(":")[0]: f for f in faulty["findings"] if f["code"] == "RG313"}
    assert "repeat_interval" in line(by_message["route.routes[0].routes[1].repeat_interval"]["place"])
    assert line(by_message["inhibit_rules"]["place"]).startswith("inhibit_rules:")
    backlog = next(f for f in faulty["findings"] if f["code"] == "RG312" and f["subject"] == "BillingPendingBacklog")
    assert 'alert: "BillingPendingBacklog"' in line(backlog["place"])
