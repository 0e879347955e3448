"""End to end with real servers: Prometheus 2.42 runs the generated prod rules against a
tiny exporter, Alertmanager runs the generated prod config with its receivers pointed at
a local webhook, and we check who is notified of what.

Everything listens on 127.0.0.1, the whole run is bounded (90 s), and the servers are
stopped by PID. The test copies change only what a test needs to run quickly: rule group
intervals become 1s and `for` is dropped (the promtool tests prove `for`); counter windows
(`offset W`) shrink 600-fold, to at least 2s, since an exact count needs the metric to
have existed a window ago (a 6h/30m burn-rate tier reads 36s/3s); Alertmanager's group
waits become 1s and each receiver posts to the local webhook.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from conftest import OUTPUT
from rulesgen.promql import Duration
from rulesgen.verify.engines import FAILING_PLATFORM, Alertmanager, Engine, Exporter, Prometheus, serve

DEADLINE = 90.0

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("prometheus-alertmanager") is None,
    reason="prometheus and prometheus-alertmanager are not installed (make test installs them)",
)


class Webhook(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            for alert in payload["alerts"]:
                self.received.append((self.path.strip("/"), alert))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def shrunk(match: re.Match[str]) -> str:
    """`offset 6h` -> `offset 36s`: windows 600 times shorter, at least 2 scrapes."""
    seconds = max(2, Duration.parse(match.group(1)).ms // 600_000)
    return f"offset {seconds}s"


def inhibited_alerts() -> set[str]:
    """Alerts an inhibition rule names as its target by alertname."""
    doc = yaml.safe_load((OUTPUT / "prod" / "alertmanager" / "alertmanager.yml").read_text())
    found = (re.fullmatch(r'alertname="(\w+)"', m) for r in doc["inhibit_rules"] for m in r["target_matchers"])
    return {m[1] for m in found if m}


def live_rules(tmp: Path) -> list[Path]:
    paths = []
    inhibited = inhibited_alerts()
    for path in sorted((OUTPUT / "prod" / "prometheus").glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        for group in doc["groups"]:
            group["interval"] = "1s"
            for rule in group["rules"]:
                # An absence alert keeps its `for`: without it, it fires at the first
                # evaluation, before Prometheus has scraped anything.
                if not str(rule.get("expr", "")).startswith("absent("):
                    rule.pop("for", None)
                # An inhibited alert fires a little after its source, as its longer `for`
                # makes it do in production: with none, the two race to Alertmanager.
                if rule.get("alert") in inhibited:
                    rule["for"] = "5s"
                rule["expr"] = re.sub(r"offset (\w+)", shrunk, rule["expr"])
        target = tmp / path.name
        target.write_text(yaml.safe_dump(doc))
        paths.append(target)
    return paths


def live_alertmanager_config(webhook_port: int) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((OUTPUT / "prod" / "alertmanager" / "alertmanager.yml").read_text())

    def fast(route: dict[str, Any]) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route:
                route[key] = "1s"
        route.setdefault("group_wait", "1s")
        for child in route.get("routes", []):
            fast(child)

    fast(doc["route"])
    doc["receivers"] = [
        {"name": r["name"], "webhook_configs": [{"url": f"http://127.0.0.1:{webhook_port}/{r['name']}"}]}
        for r in doc["receivers"]
    ]
    return doc


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[list[tuple[str, dict[str, Any]]], list[Engine]]]:
    Webhook.received = []
    with (
        Exporter(FAILING_PLATFORM) as exporter,
        serve(Webhook) as webhook_port,
        Alertmanager(live_alertmanager_config(webhook_port), lifetime=DEADLINE) as am,
        Prometheus(
            scrape=[exporter.target],
            rule_files=live_rules(tmp_path),
            alertmanagers=[f"127.0.0.1:{am.port}"],
            flags=["--rules.alert.resend-delay=1s"],
            lifetime=DEADLINE,
        ) as prom,
    ):
        yield Webhook.received, [prom, am]


def test_alerts_reach_the_right_receivers_and_inhibition_holds(
    stack: tuple[list[tuple[str, dict[str, Any]]], list[Engine]],
) -> None:
    received, servers = stack
    expected = {
        ("billing-pager", "BillingTransactionsFailing"),
        ("billing-pager", "BillingMainnetNetworkFailures"),
        ("billing-pager", "BillingTransactionsErrorBudgetBurn"),
        ("billing-chat", "BillingPendingBacklog"),
    }
    start = time.monotonic()
    while time.monotonic() - start < DEADLINE - 20:
        with Webhook.lock:
            got = {(receiver, alert["labels"]["alertname"]) for receiver, alert in received}
        if expected <= got:
            break
        time.sleep(0.5)
    # Give inhibited or misrouted notifications time to show up if they were going to.
    time.sleep(5)
    with Webhook.lock:
        deliveries = list(received)
    got = {(receiver, alert["labels"]["alertname"]) for receiver, alert in deliveries}
    context = "\n".join(re.sub(r"\s+", " ", server.log())[-1500:] for server in servers)
    assert expected <= got, f"missing: {expected - got}\n{context}"
    assert got == expected, f"unexpected deliveries: {got - expected}"

    failing = next(a for r, a in deliveries if a["labels"]["alertname"] == "BillingTransactionsFailing")
    assert failing["labels"] == {
        "alertname": "BillingTransactionsFailing",
        "env": "prod",
        "network": "polygon",
        "severity": "critical",
        "team": "billing",
    }
    assert failing["annotations"]["runbook_url"].endswith("/billing-transactions-failing")
    # The failure ratio (12% > 10%) fires in Prometheus, but the mainnet alert inhibits it;
    # the burn rate's ticket tiers are muted by its page tier.
    burn_tiers = {
        a["labels"]["slo_tier"]
        for r, a in deliveries
        if a["labels"]["alertname"] == "BillingTransactionsErrorBudgetBurn"
    }
    assert burn_tiers == {"page"}
