"""`rulesgen simulate`: days of the platform's metrics as Prometheus would have scraped
them, in OpenMetrics, with incidents the shipped alerts are meant to catch and
production faults they must sit through.

Every metric of the spec's catalog is exported by the scrape targets of its job (two
per job, with `job`, `instance` and `up`), every 30 s (`--scrape-interval`), with
diurnal traffic. Counters
count whole events (their rates are smooth, so a healthy platform never crosses a
threshold by chance); gauges carry a little seeded noise. The same seed writes the
same bytes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import yaml

from rulesgen.backtest.common import iso
from rulesgen.backtest.source import open_text
from rulesgen.spec.validate import Document

SCRAPE_INTERVAL = 30  # seconds between scrapes, by default
# Longer, and a 5m rate would read fewer than two samples of a series; a gap of a few
# scrapes would leave Prometheus's 5m lookback with nothing and read as absence.
MAX_SCRAPE_INTERVAL = 120
START = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp())  # a Monday, fixed: output is deterministic
BUCKETS = (0.1, 0.25, 0.5, 1.0)
JOBS = {"billing": 8080, "api": 8080, "redis": 9121}


@dataclass(frozen=True)
class Window:
    """Something that happened between `start` and `end` (unix seconds)."""

    name: str
    kind: str  # incident | fault
    start: int
    end: int
    labels: dict[str, str] = field(default_factory=dict)
    alerts: tuple[str, ...] = ()
    what: str = ""

    def covers(self, t: int) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class Target:
    job: str
    instance: str
    born: int
    died: int | None = None

    def alive(self, t: int) -> bool:
        return self.born <= t and (self.died is None or t < self.died)


def diurnal(t: int) -> float:
    """Traffic through the day: a trough at 04:00 UTC at 40%, a peak at 16:00 at 160%."""
    hour = (t % 86400) / 3600
    return 1.0 - 0.6 * math.cos(2 * math.pi * (hour - 4) / 24)


class Platform:
    """The billing and content platform: what each series reads at each scrape."""

    def __init__(self, doc: Document, days: float, seed: int, step: int = SCRAPE_INTERVAL) -> None:
        self.doc = doc
        self.step = step
        self.rng = random.Random(seed)
        self.start = START
        self.end = START + int(days * 86400)
        sets = doc.header.label_sets
        self.mainnets = list(sets["mainnet_networks"].values) if "mainnet_networks" in sets else ["polygon"]
        # One testnet and the monitored routes only: every series costs ~2 MB a week.
        self.testnets = list(sets["mainnet_networks"].others[:1]) if "mainnet_networks" in sets else []
        routes = sets.get("monitored_routes")
        self.routes = list(routes.values) if routes else ["/v1/nodes"]
        self.windows = self._windows()
        self.targets = self._targets()

    # --- the calendar -------------------------------------------------------------

    def _windows(self) -> list[Window]:
        m = self.mainnets
        plan: list[tuple[str, str, int, dict[str, str], tuple[str, ...], str]] = [
            (
                "mainnet-failures",
                "incident",
                45,
                {"network": m[0]},
                (
                    "BillingTransactionsFailing",
                    "BillingTransactionFailureRatioHigh",
                    "BillingMainnetNetworkFailures",
                    "BillingTransactionsErrorBudgetBurn",
                ),
                f"60% of {m[0]} transactions fail and its RPC errors",
            ),
            (
                "replica-away",
                "fault",
                15,
                {"instance": "billing-1:8080"},
                (),
                "billing-1 is not scraped for 15 minutes",
            ),
            (
                "pending-backlog",
                "incident",
                40,
                {"network": m[-1]},
                ("BillingPendingBacklog",),
                f"90 transactions pending on {m[-1]}",
            ),
            ("failed-scrape", "fault", 1, {"instance": "billing-1:8080"}, (), "one scrape of billing-1 fails"),
            ("churn", "incident", 60, {}, ("BillingSubscriptionChurnHigh",), "churn at 35%"),
            ("crash-loop", "fault", 60, {"instance": "billing-0:8080"}, (), "billing-0 restarts every 6 minutes"),
            (
                "contract-failures",
                "incident",
                20,
                {"chain_id": "137", "event": "Transfer"},
                ("BillingContractEventsFailing",),
                "Transfer events fail on chain 137",
            ),
            ("deploy", "fault", 1, {"job": "api"}, (), "the api pods are replaced by new ones"),
            (
                "exporter-down",
                "incident",
                25,
                {"job": "billing"},
                # Every alert that fires on no billing data: BillingMetricsAbsent, and the
                # absence guards of each mainnet (which it mutes in Alertmanager).
                self._absences("billing"),
                "no billing target scraped",
            ),
            ("prometheus-restart", "fault", 2, {}, (), "Prometheus is down for 2 minutes"),
            (
                "cache-misses",
                "incident",
                30,
                {"instance": "redis-1:9121"},
                ("NodeCacheHitRatioLow",),
                "a third of redis-1's lookups miss",
            ),
            (
                "testnet-noise",
                "fault",
                120,
                {"network": self.testnets[0] if self.testnets else ""},
                (),
                "a testnet fails 90%",
            ),
            (
                "redis-memory",
                "incident",
                30,
                {"instance": "redis-0:9121"},
                ("RedisMemoryHigh",),
                "redis-0 at 75% of maxmemory",
            ),
        ]
        span = self.end - self.start
        # An hour of history first: the burn-rate alert's shortest long window.
        first = self.start + 3600
        slot = (self.end - first) // len(plan)
        out = []
        for k, (name, kind, minutes, labels, alerts, what) in enumerate(plan):
            jitter = self.rng.randrange(-slot // 8, slot // 8 + 1) if slot >= 8 * 60 else 0
            begin = first + k * slot + slot // 3 + jitter
            begin -= begin % 60
            out.append(Window(name, kind, begin, begin + minutes * 60, labels, alerts, what))
        if span > 7 * 86400:  # the latency alert compares with a week earlier
            begin = self.end - 2 * 3600
            route = self.routes[0]
            what = f"p95 of {route} more than doubles"
            out.append(
                Window(
                    "latency-regression",
                    "incident",
                    begin,
                    begin + 1800,
                    {"route": route},
                    ("ApiLatencyRegression",),
                    what,
                )
            )
        return out

    def window(self, name: str) -> Window | None:
        return next((w for w in self.windows if w.name == name), None)

    def _absences(self, job: str) -> tuple[str, ...]:
        """The alerts that fire when `job` exports nothing."""
        return tuple(
            a.name
            for a in self.doc.alerts
            if a.invariants.no_data_fires and any(job_of(u.selector.metric) == job for u in a.selectors())
        )

    def during(self, name: str, t: int) -> bool:
        w = self.window(name)
        return w is not None and w.covers(t)

    def _targets(self) -> list[Target]:
        deploy = self.window("deploy")
        out = []
        for job, port in JOBS.items():
            for i in range(2):
                died = deploy.start if deploy and job == "api" else None
                out.append(Target(job, f"{job}-{i}:{port}", self.start, died))
                if died is not None:
                    out.append(Target(job, f"{job}-{i + 2}:{port}", died))
        return out

    # --- scrapes ------------------------------------------------------------------

    def scraped(self, target: Target, t: int) -> bool | None:
        """Whether a scrape of `target` at `t` succeeded; None: nothing scraped it."""
        if not target.alive(t) or self.during("prometheus-restart", t):
            return None
        for w in self.windows:
            if not w.covers(t):
                continue
            if w.name in ("replica-away", "failed-scrape") and w.labels["instance"] == target.instance:
                return False
            if w.name == "exporter-down" and target.job == "billing":
                return False
            if w.name == "crash-loop" and target.instance == w.labels["instance"] and (t - w.start) % 360 < 60:
                return False
        return True

    def restarted(self, target: Target, t: int) -> bool:
        """Whether the process behind `target` started anew at `t` (its counters reset)."""
        w = self.window("crash-loop")
        if w is None or target.instance != w.labels["instance"] or not w.covers(t):
            return False
        # The first scrape after the minute it is down: any scrape interval sees the reset.
        return 60 <= (t - w.start) % 360 < 60 + self.step

    # --- values -------------------------------------------------------------------

    def traffic(self, network: str, t: int) -> float:
        return (1.0 if network in self.mainnets else 0.2) * diurnal(t)

    def failure_share(self, network: str, t: int) -> float:
        w = self.window("mainnet-failures")
        if w and w.covers(t) and w.labels["network"] == network:
            return 0.6
        if network in self.mainnets:
            return 0.002
        w = self.window("testnet-noise")
        return 0.9 if w and w.covers(t) and w.labels["network"] == network else 0.3

    def counter_rate(self, metric: str, labels: dict[str, str], target: Target, t: int) -> float:
        """Events per second of one counter series on one target."""
        network = labels.get("network", "")
        if metric == "billing_transactions_total":
            share = self.failure_share(network, t)
            return self.traffic(network, t) * (share if labels.get("status") == "failed" else 1 - share)
        if metric == "billing_transaction_value_usd_total":
            return 25 * self.traffic(network, t)
        if metric == "billing_transactions_network_failed_total":
            if network not in self.mainnets:
                return 0.05
            w = self.window("mainnet-failures")
            return 0.3 if w and w.covers(t) and w.labels["network"] == network else 0.0
        if metric == "billing_contract_events_total":
            if labels.get("status") != "failed":
                return 0.1 * diurnal(t)
            w = self.window("contract-failures")
            hit = w and w.covers(t) and all(labels.get(k) == v for k, v in w.labels.items())
            return 0.05 if hit else 0.0
        if metric == "redis_keyspace_hits_total":
            return 500 * diurnal(t)
        if metric == "redis_keyspace_misses_total":
            w = self.window("cache-misses")
            return (250 if w and w.covers(t) and target.instance == w.labels["instance"] else 40) * diurnal(t)
        return 1.0 * diurnal(t)

    def gauge(self, metric: str, labels: dict[str, str], target: Target, t: int) -> float:
        noise = self.rng.random()
        network = labels.get("network", "")
        if metric == "billing_transactions_network_pending_total":
            # Every billing replica reports the pending count it reads from the database:
            # high-availability copies of one number (the spec's `replicas_by`).
            w = self.window("pending-backlog")
            if w and w.covers(t) and w.labels["network"] == network:
                return 90 + round(noise * 4)
            # Busy afternoons reach ~17 on a mainnet: under the shipped 20.
            base = 8 * diurnal(t) if network in self.mainnets else 3
            return round(base + noise * 2)
        if metric == "billing_subscriptions_churn_ratio":
            return round((0.35 if self.during("churn", t) else 0.04) + noise * 0.01, 4)
        if metric == "billing_subscriptions_active":
            return 12000 + round(noise * 40)
        if metric == "billing_subscriptions_mrr_usd":
            return 250000 + round(noise * 500)
        if metric == "billing_subscriptions_arpu_usd":
            return round(20.8 + noise * 0.2, 2)
        if metric == "redis_memory_max_bytes":
            return 2e9
        if metric == "redis_memory_used_bytes":
            w = self.window("redis-memory")
            share = 0.75 if w and w.covers(t) and target.instance == w.labels["instance"] else 0.4
            return float(round(2e9 * (share + noise * 0.02)))
        return round(noise * 10, 2)

    def latency_mean(self, route: str, t: int) -> float:
        """Mean of the (exponential) request latency of a route."""
        w = self.window("latency-regression")
        if w and w.covers(t) and w.labels["route"] == route:
            return 0.1
        return 0.04 if route == self.routes[0] else 0.05


# --- series ---------------------------------------------------------------------------

LABEL_VALUES = {
    "status": ["failed", "succeeded"],
    "token": ["usdc"],
    "source": ["api"],
    "event": ["Transfer"],
    "chain_id": ["137", "42161"],
    "method": ["GET"],
}
LEADER_ONLY = ("billing_subscriptions_", "billing_contract_events")


def job_of(metric: str) -> str:
    if metric.startswith("http_"):
        return "api"
    if metric.startswith("redis_"):
        return "redis"
    return "billing"


def label_sets(platform: Platform, labels: list[str]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = [{}]
    for name in labels:
        if name == "instance":
            continue
        if name == "network":
            values = [*platform.mainnets, *platform.testnets]
        elif name == "route":
            values = platform.routes
        else:
            values = LABEL_VALUES.get(name, ["a"])
        out = [{**base, name: v} for base in out for v in values]
    return out


def render(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}}"


Sampler = Callable[[int, bool], float | None]  # (t, restarted) -> value or None


def series_lines(key: str, target: Target, platform: Platform, sample: Sampler) -> Iterator[str]:
    for t in range(platform.start, platform.end, platform.step):
        if not platform.scraped(target, t):
            continue
        value = sample(t, platform.restarted(target, t))
        if value is not None:
            yield f"{key} {_num(value)} {t}\n"


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.6g}"


def counter(platform: Platform, rate: Callable[[int], float], whole: bool = True) -> Sampler:
    total = 0.0

    def sample(t: int, restarted: bool) -> float:
        nonlocal total
        total = 0.0 if restarted else total + rate(t) * platform.step
        return float(math.floor(total)) if whole else round(total, 3)

    return sample


def write_family(out: IO[str], platform: Platform, metric: str, kind: str, labels: list[str]) -> None:
    job = job_of(metric)
    targets = [tg for tg in platform.targets if tg.job == job]
    if metric.startswith(LEADER_ONLY):
        targets = [tg for tg in targets if tg.instance.startswith(f"{job}-0:")]
    family = metric.removesuffix("_total") if kind == "counter" else metric
    out.write(f"# TYPE {family} {kind}\n")
    for base in label_sets(platform, labels):
        for target in targets:
            tl = {"instance": target.instance, "job": job, **base}
            if kind == "gauge":
                gauge = (lambda lb, tg: lambda t, _r: platform.gauge(metric, lb, tg, t))(base, target)
                out.writelines(series_lines(render(metric, tl), target, platform, gauge))
            elif kind == "counter":
                rate = (lambda lb, tg: lambda t: platform.counter_rate(metric, lb, tg, t))(base, target)
                whole = not metric.endswith("usd_total")
                out.writelines(series_lines(render(metric, tl), target, platform, counter(platform, rate, whole)))
            else:
                write_histogram(out, platform, metric, tl, target)


def write_histogram(out: IO[str], platform: Platform, metric: str, labels: dict[str, str], target: Target) -> None:
    route = labels.get("route", "")

    def requests(t: int) -> float:
        return 20 * diurnal(t)

    def below(le: float) -> Callable[[int], float]:
        return lambda t: requests(t) * (1 - math.exp(-le / platform.latency_mean(route, t)))

    parts: list[tuple[str, Sampler]] = [
        (render(f"{metric}_bucket", {**labels, "le": str(le)}), counter(platform, below(le))) for le in BUCKETS
    ]
    parts.append((render(f"{metric}_bucket", {**labels, "le": "+Inf"}), counter(platform, requests)))
    parts.append((render(f"{metric}_count", labels), counter(platform, requests)))
    mean_sum = counter(platform, lambda t: requests(t) * platform.latency_mean(route, t), whole=False)
    parts.append((render(f"{metric}_sum", labels), mean_sum))
    for key, sample in parts:
        out.writelines(series_lines(key, target, platform, sample))


def write_up(out: IO[str], platform: Platform) -> None:
    out.write("# TYPE up gauge\n")
    for target in platform.targets:
        key = render("up", {"instance": target.instance, "job": target.job})
        for t in range(platform.start, platform.end, platform.step):
            ok = platform.scraped(target, t)
            if ok is not None:
                out.write(f"{key} {int(ok)} {t}\n")


def simulate(doc: Document, days: float, seed: int, out_path: Path, step: int = SCRAPE_INTERVAL) -> Path:
    """Write the history, scraped every `step` seconds, to `out_path` and its incidents
    next to it; returns the latter."""
    platform = Platform(doc, days, seed, step)
    with open_text(out_path, "w") as out:
        for metric, spec in sorted(doc.header.metrics.items()):
            write_family(out, platform, metric, str(spec.type), list(spec.labels))
        write_up(out, platform)
        out.write("# EOF\n")
    incidents = out_path.with_name("incidents.yaml")
    incidents.write_text(yaml.safe_dump(incidents_doc(platform), sort_keys=False))
    return incidents


def incidents_doc(platform: Platform) -> dict[str, object]:
    def entry(w: Window) -> dict[str, object]:
        doc: dict[str, object] = {"name": w.name, "what": w.what, "start": iso(w.start), "end": iso(w.end)}
        doc["labels"] = dict(w.labels)
        if w.alerts:
            doc["alerts"] = list(w.alerts)
        return doc

    return {
        "range": {"start": iso(platform.start), "end": iso(platform.end)},
        "incidents": [entry(w) for w in platform.windows if w.kind == "incident"],
        "faults": [entry(w) for w in platform.windows if w.kind == "fault"],
    }
