"""vmalert, for real: VictoriaMetrics single-node holds the data, vmalert evaluates the
generated prod vmalert rule files against it, and a tiny local webhook in the test plays
Alertmanager (vmalert posts to its `/api/v2/alerts`).

The data is one broken platform that fires every prod alert once, beside series that
must stay silent: an Arbitrum that is healthy, a testnet that fails (a testnet never
pages), a Redis without a memory limit, a route whose latency did not regress. It is
imported through VictoriaMetrics' `/api/v1/import/prometheus` with timestamps: fifteen
minutes of history at once, then a new sample every second. Counters are counted
exactly from their value a window ago (up to 3 days for the burn rate), so the history
also holds the few minutes around each window's start for the length of the run (the
counters grow steadily from three days back; the stretches between are left empty).
The latency alert compares with the raw buckets a week earlier, imported likewise. The
burn rate's ticket windows sum its exact 1h record at whole hours: those records are
imported for the last 3 days, as vmalert would have recorded them.

The test then requires exactly the expected alerts, with exactly the expected labels,
and every annotation of every alert rendered by vmalert's templates (whose functions
differ from Prometheus's): no `{{` left, no `<no value>`, no error.

As in the Prometheus live test, the copies of the rule files only change what a test
needs to run quickly: group intervals become 1s and `for` is dropped (the promtool tests
prove `for`). Everything listens on 127.0.0.1, the run is bounded (60 s), and the
servers are stopped by PID.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from conftest import SPEC
from rulesgen.pipeline import compile_spec
from rulesgen.spec.validate import load_spec
from rulesgen.targets import vmalert
from rulesgen.verify.engines import Engine, VictoriaMetrics, VMAlert, serve

DEADLINE = 60.0

pytestmark = pytest.mark.skipif(
    shutil.which("vmalert") is None or shutil.which("victoria-metrics") is None,
    reason="vmalert and victoria-metrics are not installed (Debian package victoria-metrics; make test installs it)",
)

WEEK_MS = 7 * 24 * 3600 * 1000
HISTORY_MS = 15 * 60 * 1000
HISTORY_STEP_MS = 15_000
# Windows the exact counts look back (`offset W`) beyond the dense history.
WINDOWS_MS = [m * 60_000 for m in (30, 60, 120, 360, 1440, 4320)]
ORIGIN_MS = max(WINDOWS_MS) + HISTORY_MS  # the counters start this long before the run
HOUR_MS = 3_600_000
TILE_RECORD = "network_status:billing_transactions:increase1h"

# Per-second rates of the counters, values of the gauges.
COUNTERS: dict[str, float] = {
    # Polygon: 12% of its transactions fail; Arbitrum is healthy. Globally 1.2 of 12/s
    # fail: a 10% error ratio burns a 99% objective 10x, above the 6x page tier and both
    # ticket tiers but below the 14.4x one.
    'billing_transactions_total{status="failed",network="polygon",token="usdc",source="api"}': 1.2,
    'billing_transactions_total{status="succeeded",network="polygon",token="usdc",source="api"}': 8.8,
    'billing_transactions_total{status="failed",network="arbitrum",token="usdc",source="api"}': 0.0,
    'billing_transactions_total{status="succeeded",network="arbitrum",token="usdc",source="api"}': 2.0,
    'billing_transactions_network_failed_total{network="polygon",token="usdc"}': 1.2,
    'billing_transactions_network_failed_total{network="polygon-amoy",token="usdc"}': 5.0,
    'billing_contract_events_total{event="Transfer",status="failed",chain_id="137",method="transfer"}': 0.1,
    'billing_contract_events_total{event="Transfer",status="succeeded",chain_id="137",method="transfer"}': 5.0,
    'billing_contract_events_total{event="Mint",status="succeeded",chain_id="137",method="mint"}': 1.0,
    # 80% of lookups hit on redis-1 (below 85%), 99% on redis-2.
    'redis_keyspace_hits_total{instance="redis-1"}': 80.0,
    'redis_keyspace_misses_total{instance="redis-1"}': 20.0,
    'redis_keyspace_hits_total{instance="redis-2"}': 99.0,
    'redis_keyspace_misses_total{instance="redis-2"}': 1.0,
}
GAUGES: dict[str, float] = {
    'billing_transactions_network_pending_total{network="polygon",token="usdc"}': 50,
    'billing_transactions_network_pending_total{network="arbitrum",token="usdc"}': 3,
    "billing_subscriptions_churn_ratio": 0.3,
    'redis_memory_used_bytes{instance="redis-1"}': 700e6,
    'redis_memory_max_bytes{instance="redis-1"}': 1000e6,
    # No memory limit: never pages, however much it uses.
    'redis_memory_used_bytes{instance="redis-2"}': 900e6,
    'redis_memory_max_bytes{instance="redis-2"}': 0,
}
# Cumulative bucket rates: 80% of requests between 0.25s and 0.5s, so p95 is about 0.48s
# on every route (the same histogram interpolation in PromQL and MetricsQL).
BUCKETS = {"0.1": 1.0, "0.25": 2.0, "0.5": 10.0, "1": 10.0, "+Inf": 10.0}
ROUTES = ("/v1/nodes", "/v1/notifications", "/v1/users")
for _route in ROUTES:
    for _le, _rate in BUCKETS.items():
        COUNTERS[f'http_request_duration_seconds_bucket{{route="{_route}",method="GET",le="{_le}"}}'] = _rate
# A week ago (cumulative bucket rates): /v1/nodes at p95 0.2s (more than 20% faster: a
# regression now), the monitored /v1/notifications at 0.45s (within 20%), and
# /v1/users, which is not monitored, at 0.095s.
WEEK_AGO = {
    "/v1/nodes": {"0.1": 8.5, "0.25": 10.0, "0.5": 10.0, "1": 10.0, "+Inf": 10.0},
    "/v1/notifications": {"0.1": 1.0, "0.25": 7.5, "0.5": 10.0, "1": 10.0, "+Inf": 10.0},
    "/v1/users": {"0.1": 10.0, "0.25": 10.0, "0.5": 10.0, "1": 10.0, "+Inf": 10.0},
}

BILLING = {"alertgroup": "rulesgen.billing", "env": "prod", "team": "billing"}
PLATFORM = {"alertgroup": "rulesgen.platform", "env": "prod", "team": "platform"}
EXPECTED: list[dict[str, str]] = [
    {"alertname": "BillingTransactionsFailing", "network": "polygon", "severity": "critical", **BILLING},
    {"alertname": "BillingTransactionFailureRatioHigh", "network": "polygon", "severity": "critical", **BILLING},
    {"alertname": "BillingPendingBacklog", "network": "polygon", "severity": "warning", **BILLING},
    {"alertname": "BillingMainnetNetworkFailures", "network": "polygon", "severity": "critical", **BILLING},
    {"alertname": "BillingSubscriptionChurnHigh", "severity": "warning", **BILLING},
    {
        "alertname": "BillingContractEventsFailing",
        "chain_id": "137",
        "event": "Transfer",
        "severity": "warning",
        **BILLING,
    },
    *(
        {
            "alertname": "BillingTransactionsErrorBudgetBurn",
            "slo_tier": tier,
            "long_window": long,
            "short_window": short,
            "severity": severity,
            **BILLING,
        }
        for tier, long, short, severity in (
            ("page", "6h", "30m", "critical"),
            ("ticket", "1d", "2h", "warning"),
            ("ticket", "3d", "6h", "warning"),
        )
    ),
    {"alertname": "ApiLatencyRegression", "route": "/v1/nodes", "severity": "warning", **PLATFORM},
    {"alertname": "NodeCacheHitRatioLow", "instance": "redis-1", "severity": "warning", **PLATFORM},
    {"alertname": "RedisMemoryHigh", "instance": "redis-1", "severity": "warning", **PLATFORM},
]

# What a template that did not render leaves: its own braces, Go's `<no value>` for a
# missing label, a `%!` bad-format verb, or the text of a template or function error
# (not the words "error budget").
UNRENDERED = re.compile(r"\{\{|\}\}|<no value>|%!|\btemplate: |error (expanding|executing|evaluating|calling)", re.I)

# A known defect, kept visible: the burn-rate description reads `$labels.long_window` and
# `$labels.short_window`, labels the rule adds. Neither Prometheus nor vmalert puts a
# rule's own labels in `$labels` (only the query result's), so the windows render empty
# in Prometheus and as `<no value>` in vmalert. Once the kind writes the windows in at
# generation this entry must go: the test fails when the set differs either way.
# Every annotation renders: the burn-rate windows are written in at generate time (RG201).
KNOWN_UNRENDERED: set[tuple[str, str]] = set()


def key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


class Notifier(BaseHTTPRequestHandler):
    """Alertmanager's alerts API as vmalert calls it: a JSON list of alerts per POST."""

    received: ClassVar[dict[tuple[tuple[str, str], ...], dict[str, Any]]] = {}
    lock = threading.Lock()

    def do_POST(self) -> None:
        alerts = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            for alert in alerts:
                self.received[key(alert["labels"])] = alert
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Feeder:
    """Imports the series into VictoriaMetrics: history at once, then one sample a second."""

    vm: VictoriaMetrics
    start_ms: int = field(default_factory=lambda: int(time.time() * 1000) - ORIGIN_MS)
    stopped: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)

    def lines(self, at_ms: int) -> list[str]:
        elapsed = (at_ms - self.start_ms) / 1000
        out = [f"{series} {rate * elapsed:.3f} {at_ms}" for series, rate in COUNTERS.items()]
        out.extend(f"{series} {value} {at_ms}" for series, value in GAUGES.items())
        return out

    def post(self, lines: list[str]) -> None:
        self.vm.import_lines(lines)

    def backfill(self) -> None:
        now = int(time.time() * 1000)
        # Dense recent history, and around each window's start for the whole run.
        stretches = [(now - HISTORY_MS, now)]
        stretches += [(now - w - 2 * HISTORY_STEP_MS * 4, now - w + int(DEADLINE * 1000) + 10_000) for w in WINDOWS_MS]
        lines = [line for lo, hi in stretches for at in range(lo, hi, HISTORY_STEP_MS) for line in self.lines(at)]
        # The raw buckets a week ago, around this test's run (counters of their own).
        week_ago = now - WEEK_MS
        for at in range(week_ago - HISTORY_MS, week_ago + HISTORY_MS, HISTORY_STEP_MS):
            elapsed = (at - week_ago + 2 * HISTORY_MS) / 1000
            lines.extend(
                f'http_request_duration_seconds_bucket{{route="{route}",method="GET",le="{le}"}} {rate * elapsed:.3f} {at}'
                for route, buckets in WEEK_AGO.items()
                for le, rate in buckets.items()
            )
        lines.extend(self.tiles(now))
        self.post(lines)

    def tiles(self, now: int) -> list[str]:
        """The exact 1h count the burn-rate record would have held at each whole hour of
        the last 3 days: the ticket tiers sum those records (the rules have been
        deployed for days), while vmalert itself records only from now on."""
        per_hour: dict[tuple[str, str], float] = {}
        for series, rate in COUNTERS.items():
            labels = dict(re.findall(r'(\w+)="([^"]*)"', series))
            if series.startswith("billing_transactions_total{"):
                level = (labels["network"], labels["status"])
                per_hour[level] = per_hour.get(level, 0.0) + rate * 3600
        top = now - now % HOUR_MS
        return [
            f'{TILE_RECORD}{{network="{network}",status="{status}"}} {count:.3f} {at}'
            for at in range(top - max(WINDOWS_MS), top + 1, HOUR_MS)
            for (network, status), count in sorted(per_hour.items())
        ]

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            try:
                self.post(self.lines(int(time.time() * 1000)))
            except OSError as error:  # reported by the test, which fails on missing alerts anyway
                self.errors.append(str(error))


def live_rules(tmp: Path) -> list[Path]:
    """The prod vmalert rule files, with 1s intervals and no `for`."""
    program = compile_spec(load_spec(SPEC), tests=False)
    paths = []
    for name, content in sorted(vmalert.emit(program, vmalert.Options()).items()):
        if not name.startswith("prod/"):
            continue
        doc = yaml.safe_load(content)
        for group in doc["groups"]:
            group["interval"] = "1s"
            for rule in group["rules"]:
                rule.pop("for", None)
        path = tmp / Path(name).name
        path.write_text(yaml.safe_dump(doc))
        paths.append(path)
    return paths


@pytest.fixture
def vm_stack(
    tmp_path: Path,
) -> Iterator[tuple[dict[tuple[tuple[str, str], ...], dict[str, Any]], list[Engine], Feeder]]:
    Notifier.received = {}
    with serve(Notifier) as notifier_port, VictoriaMetrics(lifetime=DEADLINE) as vm:
        feeder = Feeder(vm)
        feeder.backfill()
        thread = threading.Thread(target=feeder.run, daemon=True)
        thread.start()
        try:
            with VMAlert(
                datasource=vm.url,
                # Alerts read recording rules, which vmalert must write back to be read.
                remote_write=vm.url,
                notifier=f"http://127.0.0.1:{notifier_port}",
                rule_files=live_rules(tmp_path),
                flags=["-rule.resendDelay=1s"],
                lifetime=DEADLINE,
            ) as alerting:
                yield Notifier.received, [alerting, vm], feeder
        finally:
            feeder.stopped.set()
            thread.join(timeout=5)


def test_vmalert_fires_exactly_the_expected_alerts_with_rendered_annotations(
    vm_stack: tuple[dict[tuple[tuple[str, str], ...], dict[str, Any]], list[Engine], Feeder],
) -> None:
    received, servers, feeder = vm_stack
    expected = {key(labels) for labels in EXPECTED}
    began = time.monotonic()
    while time.monotonic() - began < DEADLINE - 20:
        with Notifier.lock:
            got = set(received)
        if expected <= got:
            break
        time.sleep(0.5)
    # Give alerts that should stay silent time to show up if they were going to.
    time.sleep(5)
    with Notifier.lock:
        alerts = dict(received)
    context = "\n".join(re.sub(r"\s+", " ", server.log())[-1500:] for server in servers)
    assert expected <= set(alerts), f"missing: {expected - set(alerts)}\nfeeder: {feeder.errors[-3:]}\n{context}"
    assert set(alerts) == expected, f"unexpected alerts: {set(alerts) - expected}"

    unrendered: dict[tuple[str, str], str] = {}
    for labels, alert in alerts.items():
        name = dict(labels)["alertname"]
        assert set(alert["annotations"]) == {"summary", "description", "runbook_url", "dashboard_url"}, name
        for annotation, text in alert["annotations"].items():
            if not text.strip() or UNRENDERED.search(text):
                unrendered[(name, annotation)] = text
    assert set(unrendered) == KNOWN_UNRENDERED, f"annotations that did not render: {unrendered}"

    by_name = {dict(labels)["alertname"]: alert for labels, alert in alerts.items()}
    # Values went through vmalert's humanize functions, as Prometheus would render them.
    ratio = by_name["BillingTransactionFailureRatioHigh"]["annotations"]["description"]
    assert re.search(r"\b12(\.0+)?%", ratio), ratio
    failing = by_name["BillingTransactionsFailing"]["annotations"]
    assert "on network polygon" in failing["summary"], failing
    latency = by_name["ApiLatencyRegression"]["annotations"]
    assert "/v1/nodes" in latency["summary"], latency
