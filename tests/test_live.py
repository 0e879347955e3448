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
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from conftest import OUTPUT
from rulesgen.promql import Duration

DEADLINE = 90.0
PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None or ALERTMANAGER is None,
    reason="prometheus and prometheus-alertmanager are not installed (make test installs them)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Exporter(BaseHTTPRequestHandler):
    """A failing billing platform: failures on Polygon (a mainnet), 12% of transactions
    failing there, and a backlog of 50 pending transactions."""

    started = time.monotonic()

    def do_GET(self) -> None:
        t = time.monotonic() - self.started
        failed, succeeded = int(120 * t), int(880 * t)
        body = "\n".join(
            [
                "# TYPE billing_transactions_total counter",
                f'billing_transactions_total{{status="failed",network="polygon",token="usdc",source="api"}} {failed}',
                f'billing_transactions_total{{status="succeeded",network="polygon",token="usdc",source="api"}} {succeeded}',
                "# TYPE billing_transactions_network_failed_total counter",
                f'billing_transactions_network_failed_total{{network="polygon",token="usdc"}} {failed}',
                "# TYPE billing_transactions_network_pending_total gauge",
                'billing_transactions_network_pending_total{network="polygon",token="usdc"} 50',
                "",
            ]
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


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


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def shrunk(match: re.Match[str]) -> str:
    """`offset 6h` -> `offset 36s`: windows 600 times shorter, at least 2 scrapes."""
    seconds = max(2, Duration.parse(match.group(1)).ms // 600_000)
    return f"offset {seconds}s"


def live_rules(tmp: Path) -> list[str]:
    paths = []
    for path in sorted((OUTPUT / "prod" / "prometheus").glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        for group in doc["groups"]:
            group["interval"] = "1s"
            for rule in group["rules"]:
                # An absence alert keeps its `for`: without it, it fires at the first
                # evaluation, before Prometheus has scraped anything.
                if not str(rule.get("expr", "")).startswith("absent("):
                    rule.pop("for", None)
                rule["expr"] = re.sub(r"offset (\w+)", shrunk, rule["expr"])
        target = tmp / path.name
        target.write_text(yaml.safe_dump(doc))
        paths.append(str(target))
    return paths


def live_alertmanager_config(tmp: Path, webhook_port: int) -> Path:
    doc = yaml.safe_load((OUTPUT / "prod" / "alertmanager" / "alertmanager.yml").read_text())

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
    path = tmp / "alertmanager.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[list[tuple[str, dict[str, Any]]], Path]]:
    assert PROMETHEUS and ALERTMANAGER
    exporter, exporter_port = serve(Exporter)
    webhook, webhook_port = serve(Webhook)
    Webhook.received = []
    prom_port, am_port = free_port(), free_port()
    am = start(
        [
            ALERTMANAGER,
            f"--config.file={live_alertmanager_config(tmp_path, webhook_port)}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ],
        tmp_path / "alertmanager.log",
    )
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": live_rules(tmp_path),
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [{"job_name": "billing", "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    prom = start(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--rules.alert.resend-delay=1s",
        ],
        tmp_path / "prometheus.log",
    )
    try:
        yield Webhook.received, tmp_path
    finally:
        stop(prom)
        stop(am)
        exporter.shutdown()
        webhook.shutdown()


def test_alerts_reach_the_right_receivers_and_inhibition_holds(
    stack: tuple[list[tuple[str, dict[str, Any]]], Path],
) -> None:
    received, logs = stack
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
    context = "\n".join(
        re.sub(r"\s+", " ", (logs / f).read_text())[-1500:] for f in ("prometheus.log", "alertmanager.log")
    )
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
