"""Real servers for live checks and tests: Prometheus, Alertmanager, VictoriaMetrics and
vmalert (the Debian packages), and a small exporter of the platform's metrics.

Every server listens on 127.0.0.1 on a free port, keeps its data and log in a temp dir
of its own, and is a context manager: entering starts it and waits (bounded) until it
answers its readiness endpoint; leaving stops it by PID (SIGTERM, then SIGKILL) and
removes the temp dir. A watchdog kills a server that outlives `lifetime` seconds, so a
hung test cannot leave one behind.

The API, kept small because other wings build on it:

    free_port() -> int
    serve(handler) -> context manager yielding the port of a local HTTP server
    Family(name, type, samples)            one metric family; a counter's samples are
                                           rates per second, a gauge's are values
    Exporter(families) -> context manager  serves the families at `.target` (host:port);
                                           assign `.families` to change what it serves
    FAILING_PLATFORM                        the billing platform failing on Polygon
    HEALTHY_PLATFORM                        every metric the shipped rules read, healthy
    series(name, **labels) -> str           `name{a="b"}`
    Prometheus(scrape=[host:port], rule_files=[paths], alertmanagers=[host:port],
               interval="1s", jobs=[scrape configs], flags=[...])
                                           ready once every target was scraped, then
                                           its rules are loaded (no evaluation sees no data);
                                           .wait_for(expr) waits for a query's result
    Alertmanager(config)                    config: a dict or the path of a YAML file
    VictoriaMetrics(flags=[...])
    VMAlert(datasource=url, rule_files=[paths], notifier=url, remote_write=url | None)

Each server has `.url` (http://127.0.0.1:PORT), `.dir` (its temp dir) and `.log()` (the
tail of its output, for failure messages); a server that exits early or never becomes
ready raises EngineError with that tail.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import yaml

from rulesgen.verify.tools import tool

HOST = "127.0.0.1"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
LIFETIME = 600.0


class EngineError(RuntimeError):
    """A server that could not be started, with the tail of its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """A threaded HTTP server on a free port, shut down on exit."""
    server = ThreadingHTTPServer((HOST, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Family:
    """One metric family in the text format. `samples` maps a series (`name{labels}`) to
    its rate per second for a counter (the value grows with time) or its value otherwise."""

    name: str
    type: str
    samples: Mapping[str, float]

    def exposition(self, elapsed: float) -> str:
        grow = self.type in ("counter", "histogram")
        lines = [f"# TYPE {self.name} {self.type}"]
        lines += [f"{series} {value * elapsed if grow else value:g}" for series, value in self.samples.items()]
        return "\n".join(lines)


def series(name: str, **labels: str) -> str:
    """`name{a="b",...}` in the text format."""
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else name


def _polygon(name: str, **labels: str) -> str:
    return series(name, **labels, network="polygon")


# A failing billing platform: 12% of Polygon's (a mainnet's) transactions fail, and a
# backlog of 50 transactions is pending there. Arbitrum, the other mainnet, carries a
# little healthy traffic: a mainnet with no series at all pages its absence guard.
FAILING_PLATFORM: tuple[Family, ...] = (
    Family(
        "billing_transactions_total",
        "counter",
        {
            _polygon("billing_transactions_total", status="failed", token="usdc", source="api"): 120,
            _polygon("billing_transactions_total", status="succeeded", token="usdc", source="api"): 880,
            series(
                "billing_transactions_total", network="arbitrum", status="succeeded", token="usdc", source="api"
            ): 10,
        },
    ),
    Family(
        "billing_transactions_network_failed_total",
        "counter",
        {_polygon("billing_transactions_network_failed_total", token="usdc"): 120},
    ),
    Family(
        "billing_transactions_network_pending_total",
        "gauge",
        {_polygon("billing_transactions_network_pending_total", token="usdc"): 50},
    ),
)


def _healthy() -> tuple[Family, ...]:
    networks = ("polygon", "arbitrum", "polygon-amoy")
    buckets = {"0.1": 8.0, "0.25": 9.5, "0.5": 10.0, "1": 10.0, "+Inf": 10.0}
    routes = ("/v1/nodes", "/v1/notifications", "/v1/users")
    return (
        Family(
            "billing_transactions_total",
            "counter",
            {
                series("billing_transactions_total", network=n, source="api", status=s, token="usdc"): rate
                for n in networks
                for s, rate in (("failed", 0.0), ("succeeded", 10.0))
            },
        ),
        Family(
            "billing_transactions_network_failed_total",
            "counter",
            {series("billing_transactions_network_failed_total", network=n, token="usdc"): 0.0 for n in networks},
        ),
        Family(
            "billing_transactions_network_pending_total",
            "gauge",
            {series("billing_transactions_network_pending_total", network=n, token="usdc"): 2 for n in networks},
        ),
        Family(
            "billing_contract_events_total",
            "counter",
            {
                series(
                    "billing_contract_events_total", chain_id="137", event="Transfer", method="transfer", status=s
                ): r
                for s, r in (("failed", 0.0), ("succeeded", 5.0))
            },
        ),
        Family("billing_subscriptions_churn_ratio", "gauge", {"billing_subscriptions_churn_ratio": 0.05}),
        Family("redis_keyspace_hits_total", "counter", {series("redis_keyspace_hits_total", instance="redis-1"): 99}),
        Family(
            "redis_keyspace_misses_total", "counter", {series("redis_keyspace_misses_total", instance="redis-1"): 1}
        ),
        Family("redis_memory_used_bytes", "gauge", {series("redis_memory_used_bytes", instance="redis-1"): 100e6}),
        Family("redis_memory_max_bytes", "gauge", {series("redis_memory_max_bytes", instance="redis-1"): 1000e6}),
        Family(
            "http_request_duration_seconds",
            "histogram",
            {
                series("http_request_duration_seconds_bucket", le=le, method="GET", route=r): rate
                for r in routes
                for le, rate in buckets.items()
            },
        ),
    )


# A healthy platform: every metric the shipped rules read, with every value they select
# (and a testnet), far from every threshold.
HEALTHY_PLATFORM: tuple[Family, ...] = _healthy()


class Exporter:
    """Serves `families` in the Prometheus text format on every path; counters grow at
    their rate from the moment the exporter starts."""

    def __init__(self, families: Sequence[Family] = FAILING_PLATFORM) -> None:
        self.families: Sequence[Family] = families
        self.port = 0
        self._started = time.monotonic()
        self._server: ThreadingHTTPServer | None = None

    @property
    def target(self) -> str:
        return f"{HOST}:{self.port}"

    def body(self) -> bytes:
        elapsed = time.monotonic() - self._started
        return ("\n".join(f.exposition(elapsed) for f in self.families) + "\n").encode()

    def __enter__(self) -> Self:
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.body()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self.port = self._server.server_address[1]
        self._started = time.monotonic()
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class Engine:
    """One server process: subclasses say which binary, its arguments and readiness path."""

    binary: ClassVar[str]
    ready_path: ClassVar[str]

    def __init__(self, timeout: float = READY_TIMEOUT, lifetime: float = LIFETIME) -> None:
        self.timeout = timeout
        self.lifetime = lifetime
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.dir = Path(".")
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: threading.Timer | None = None

    def args(self) -> list[str]:
        raise NotImplementedError

    def log(self, chars: int = 2000) -> str:
        path = self.dir / "server.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def __enter__(self) -> Self:
        self.dir = Path(tempfile.mkdtemp(prefix=f"rulesgen-{self.binary}-"))
        try:
            command = [tool(self.binary), *self.args()]
            with (self.dir / "server.log").open("wb") as log:
                self._proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self._watchdog = threading.Timer(self.lifetime, self._kill)
            self._watchdog.daemon = True
            self._watchdog.start()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        assert self._proc is not None
        until = time.monotonic() + self.timeout
        while time.monotonic() < until:
            if self._proc.poll() is not None:
                raise EngineError(f"{self.binary} exited with {self._proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise EngineError(f"{self.binary} was not ready at {self.url} within {self.timeout:g}s:\n{self.log()}")

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()

    def stop(self) -> None:
        """Stop the process by its PID and remove the temp dir; safe to call twice."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.dir != Path(".") and self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)


def _write_yaml(path: Path, doc: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(doc), sort_keys=False))
    return path


class Prometheus(Engine):
    binary = "prometheus"
    ready_path = "/-/ready"

    def __init__(
        self,
        *,
        scrape: Sequence[str] = (),
        rule_files: Sequence[Path] = (),
        alertmanagers: Sequence[str] = (),
        interval: str = "1s",
        jobs: Sequence[Mapping[str, Any]] = (),
        flags: Sequence[str] = (),
        timeout: float = READY_TIMEOUT,
        lifetime: float = LIFETIME,
    ) -> None:
        super().__init__(timeout, lifetime)
        # The exporter's own `job` labels win, so it can speak for other jobs.
        platform = {"job_name": "platform", "honor_labels": True, "static_configs": [{"targets": list(scrape)}]}
        self.targets = list(scrape)
        self.rule_files = [str(Path(p).resolve()) for p in rule_files]
        self.config: dict[str, Any] = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            # With targets, the rules are loaded once they have been scraped (see _wait_ready).
            "rule_files": [] if self.targets else self.rule_files,
            "scrape_configs": [platform, *map(dict, jobs)],
        }
        if alertmanagers:
            self.config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
        self.flags = list(flags)

    def wait_for(self, expr: str, timeout: float = READY_TIMEOUT) -> list[dict[str, Any]]:
        """Wait (bounded) until the instant query `expr` returns a series; its result."""
        until = time.monotonic() + timeout
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        while time.monotonic() < until:
            with urllib.request.urlopen(url, timeout=5) as response:
                result: list[dict[str, Any]] = json.load(response)["data"]["result"]
            if result:
                return result
            time.sleep(0.2)
        raise EngineError(f"prometheus: `{expr}` returned nothing within {timeout:g}s:\n{self.log()}")

    def _wait_ready(self) -> None:
        super()._wait_ready()
        if not self.targets:
            return
        # Ready is scraped (target discovery hands targets over every 5s), and only then
        # are the rules loaded: rules evaluated before the first scrape would see no data
        # (an absence alert pending from the start).
        self.wait_for(f"count(up) >= {len(self.targets)}", max(self.timeout, 10.0))
        if self.rule_files:
            self.config["rule_files"] = self.rule_files
            _write_yaml(self.dir / "prometheus.yml", self.config)
            with urllib.request.urlopen(urllib.request.Request(f"{self.url}/-/reload", method="POST"), timeout=10):
                pass
            self._wait_rules()

    def _wait_rules(self) -> None:
        until = time.monotonic() + self.timeout
        while time.monotonic() < until:
            with urllib.request.urlopen(f"{self.url}/api/v1/rules", timeout=5) as response:
                if json.load(response)["data"]["groups"]:
                    return
            time.sleep(0.1)
        raise EngineError(f"prometheus did not load {self.rule_files} within {self.timeout:g}s:\n{self.log()}")

    def args(self) -> list[str]:
        config = _write_yaml(self.dir / "prometheus.yml", self.config)
        return [
            f"--config.file={config}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--web.listen-address={HOST}:{self.port}",
            # Rules are loaded after the first scrape, by a reload.
            "--web.enable-lifecycle",
            *self.flags,
        ]


class Alertmanager(Engine):
    binary = "prometheus-alertmanager"
    ready_path = "/-/ready"

    def __init__(
        self,
        config: Mapping[str, Any] | Path,
        flags: Sequence[str] = (),
        timeout: float = READY_TIMEOUT,
        lifetime: float = LIFETIME,
    ) -> None:
        super().__init__(timeout, lifetime)
        self.config = config
        self.flags = list(flags)

    def args(self) -> list[str]:
        config = (
            self.config if isinstance(self.config, Path) else _write_yaml(self.dir / "alertmanager.yml", self.config)
        )
        return [
            f"--config.file={config}",
            f"--storage.path={self.dir / 'data'}",
            f"--web.listen-address={HOST}:{self.port}",
            # A single instance: no gossip port to collide with parallel runs.
            "--cluster.listen-address=",
            *self.flags,
        ]


class VictoriaMetrics(Engine):
    binary = "victoria-metrics"
    ready_path = "/health"

    def __init__(self, flags: Sequence[str] = (), timeout: float = READY_TIMEOUT, lifetime: float = LIFETIME) -> None:
        super().__init__(timeout, lifetime)
        self.flags = list(flags)

    def args(self) -> list[str]:
        return [
            f"-httpListenAddr={HOST}:{self.port}",
            f"-storageDataPath={self.dir / 'data'}",
            # Samples are visible to queries at once (default: 30s later), and backfilled
            # history is never hidden behind a cached response.
            "-search.latencyOffset=0s",
            "-search.disableCache",
            *self.flags,
        ]

    def import_lines(self, lines: Sequence[str]) -> None:
        """Import samples in the text format (`series value [timestamp_ms]`) and make
        them searchable now rather than at the next periodic flush."""
        request = urllib.request.Request(f"{self.url}/api/v1/import/prometheus", data="\n".join(lines).encode())
        with urllib.request.urlopen(request, timeout=10):
            pass
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10):
            pass


class VMAlert(Engine):
    binary = "vmalert"
    ready_path = "/health"

    def __init__(
        self,
        *,
        datasource: str,
        rule_files: Sequence[Path],
        notifier: str,
        remote_write: str | None = None,
        interval: str = "1s",
        flags: Sequence[str] = (),
        timeout: float = READY_TIMEOUT,
        lifetime: float = LIFETIME,
    ) -> None:
        super().__init__(timeout, lifetime)
        self.datasource, self.rule_files, self.notifier = datasource, list(rule_files), notifier
        self.remote_write, self.interval, self.flags = remote_write, interval, list(flags)

    def args(self) -> list[str]:
        write = [f"-remoteWrite.url={self.remote_write}", "-remoteWrite.flushInterval=1s"] if self.remote_write else []
        return [
            f"-httpListenAddr={HOST}:{self.port}",
            f"-datasource.url={self.datasource}",
            *write,
            f"-notifier.url={self.notifier}",
            f"-evaluationInterval={self.interval}",
            *(f"-rule={path}" for path in self.rule_files),
            *self.flags,
        ]
