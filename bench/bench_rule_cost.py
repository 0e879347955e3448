"""Benchmark what the generated Prometheus rules cost to evaluate, against hand-written ones.

What it measures: the CPU time Prometheus 2.42 spends evaluating each rule per evaluation
cycle (`evaluationTime` of every group and rule in `/api/v1/rules`), on a TSDB at
production-like cardinality with 8 days of history, for three rule sets:

- generated: every file of `output/prod/prometheus/` (or `--rules-dir`);
- naive: `bench/naive_rules.yml`, the same alerts as an SRE would write them by hand,
  with no recording rules (the 8 core alerts, plus the burn-rate and contract-event
  alerts in a group of their own);
- like for like: the generated rules restricted to the 8 core alerts and the recording
  rules they read (transitively), to compare with the naive core alerts.

It prints one table per rule set (median milliseconds per cycle of every rule, and the
samples one evaluation of it reads, from the query API's statistics), the totals and
ratios (targets: like for like generated/naive <= 0.4x, all generated/naive with
burn rates <= 0.7x) and the 10 most expensive generated rules. It is a benchmark, not a
test: it never fails on a missed target. The machine is shared and noisy: every time is
a median over several evaluation cycles, and repeated runs still differ by tens of
percent (more under load); the samples column is deterministic, but it undercounts what
costs per series (index lookups, aggregation), so read the two together.

How it works:

1. Synthetic series are written as OpenMetrics, one file per 18h block (streamed, so
   memory stays flat), and turned into TSDB blocks by `promtool tsdb create-blocks-from
   openmetrics`. Counters follow a daily cycle plus a per-series slower wave, so rates
   vary over time and between series. Series are sampled every minute where rules read
   them: every series over the last 3 days and 2 hours (the longest burn-rate window),
   the histogram buckets (90% of all series, read only by 5m rates) over the last half
   hour and the hours one week earlier (`offset 1w`); every 2 hours elsewhere, which
   keeps every series in every block and the build to a few minutes.
2. Prometheus evaluates rules at wall-clock time, so the data must reach "now": before
   each rule set is measured, a short tail of samples up to the current minute is
   added (counters continue exactly, as every value is a function of time).
3. Each rule set gets its own Prometheus on 127.0.0.1 (a free port), on a fresh
   directory of hard links to the blocks (so no run sees another's recorded series),
   with no scrape targets and every group evaluated every 5s (the copies of the rule
   files only drop the group `interval`). After warm-up cycles it reads
   `/api/v1/rules` once per cycle, then stops Prometheus by PID.

Known biases: the data ends at the minute the measurement starts, so a 5m window holds
3 to 5 samples instead of 5 (short windows are measured slightly cheap). Recorded series
have no history in the synthetic TSDB, so a rule that reads a recording rule's past
(`offset 1w` of the recorded p95, or `avg_over_time` over a recorded 5m rate) finds only
the samples written during the run and is measured cheaper than in production, where
that history is a handful of series (3 days of a 1m recording: 4,320 samples a series).

Run (from the repository root; needs promtool and prometheus, `make tools`):

    .venv/bin/python bench/bench_rule_cost.py            # full run, several minutes
    .venv/bin/python bench/bench_rule_cost.py --quick    # small TSDB, a smoke run
    .venv/bin/python bench/bench_rule_cost.py --keep     # reuse the TSDB in .bench-cache/
    .venv/bin/python bench/bench_rule_cost.py --keep --rules-dir bench/prototype_rules
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / ".bench-cache"
NAIVE_RULES = ROOT / "bench" / "naive_rules.yml"
GENERATED_RULES = ROOT / "output" / "prod" / "prometheus"

# The alerts both the naive file and the "like for like" selection cover.
CORE_ALERTS = frozenset(
    {
        "BillingTransactionsFailing",
        "BillingTransactionFailureRatioHigh",
        "BillingPendingBacklog",
        "BillingMainnetNetworkFailures",
        "BillingSubscriptionChurnHigh",
        "ApiLatencyRegression",
        "NodeCacheHitRatioLow",
        "RedisMemoryHigh",
    }
)
TARGET_LIKE_FOR_LIKE = 0.4
TARGET_ALL = 0.7

DAY = 86_400
WEEK = 7 * DAY
STEP = 60  # seconds between samples, as a 1m scrape interval
SPARSE_STEP = 7_200  # samples outside the windows rules read keep every series in every block
LONGEST_RANGE = 3 * DAY + 2 * 3_600  # the longest range a rule reads (the 3d burn rate), plus margin
BLOCK = 18 * 3_600  # promtool block length: what Prometheus compacts 2h blocks into
# Histograms are dense around "one week before now" for this long after the history was
# built; a cached TSDB older than that is rebuilt.
DENSE_WEEK_AGO = 3 * 3_600
MAX_CACHE_AGE = DENSE_WEEK_AGO - 30 * 60
FORMAT_VERSION = 1  # bump when the synthetic data changes, to invalidate caches

MAINNETS = ["polygon", "arbitrum"]
TESTNETS = ["polygon-amoy", "arbitrum-sepolia"]
OTHER_NETWORKS = [
    "ethereum",
    "optimism",
    "base",
    "avalanche",
    "bsc",
    "gnosis",
    "linea",
    "scroll",
    "zksync",
    "celo",
    "fantom",
    "mantle",
    "blast",
    "sepolia",
    "base-sepolia",
    "optimism-sepolia",
]
TOKENS = ["usdc", "usdt", "dai", "eth", "matic", "weth", "wbtc", "arb"]
SOURCES = ["api", "checkout", "subscription", "batch"]
MONITORED_ROUTES = ["/v1/nodes", "/v1/notifications"]
OTHER_ROUTES = ["/v1/users", "/v1/admin/telemetry/prometheus"]
RESOURCES = ["accounts", "plans", "invoices", "payments", "keys", "projects", "webhooks", "usage", "regions"]
METHODS = ["GET", "POST", "PUT", "DELETE"]
BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
CHAINS = ["137", "42161", "80002", "421614", "1"]
EVENTS = [
    "SubscriptionCreated",
    "SubscriptionRenewed",
    "SubscriptionCancelled",
    "PaymentReceived",
    "PaymentRefunded",
    "PlanChanged",
]
CONTRACT_METHODS = ["create", "renew", "cancel"]


@dataclass(frozen=True)
class Scale:
    """Cardinality of the synthetic platform."""

    networks: int = 20
    tokens: int = 8
    sources: int = 4
    routes: int = 60
    instances: int = 10
    redis: int = 50
    chains: int = 5

    @classmethod
    def quick(cls) -> Scale:
        return cls(networks=4, tokens=2, sources=2, routes=6, instances=2, redis=5, chains=2)


# --- synthetic series ----------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Lines that move together: one counter (or gauge) function of time, written as
    several series, each `prefix value timestamp` with value = multiplier * f(t)
    (a histogram's buckets, _sum and _count share one request counter)."""

    lines: tuple[tuple[str, float, bool], ...]  # (prefix "name{labels} ", multiplier, integer?)
    counter: bool
    level: float  # per second for counters, the mean value for gauges
    phase: float
    wave: float  # period in seconds of the slower, per-series variation
    offset: int  # scrape offset within the step, seconds
    histogram: bool = False
    vary: bool = True  # False for a constant gauge (a configured limit)


def labels(**kv: str) -> str:
    return ",".join(f'{k}="{v}"' for k, v in kv.items())


def networks(scale: Scale) -> list[str]:
    # The spec's label set values (mainnets and the testnets its tests use) always exist.
    return (MAINNETS + TESTNETS + OTHER_NETWORKS)[: max(scale.networks, 4)]


def routes(scale: Scale) -> list[str]:
    names = list(MONITORED_ROUTES + OTHER_ROUTES)
    for resource in RESOURCES:
        names += [f"/v1/{resource}", f"/v1/{resource}/{{id}}", f"/v1/{resource}/{{id}}/events"]
    for i in range(len(names), scale.routes):
        names.append(f"/v1/internal/r{i}")
    return names[: max(scale.routes, 4)]


def sources(scale: Scale) -> list[Source]:
    rng = random.Random(42)  # fixed seed: the same parameters give the same TSDB

    def src(lines: list[tuple[str, float, bool]], counter: bool, level: float, offset: int = 7) -> Source:
        return Source(tuple(lines), counter, level, rng.uniform(0, 2 * math.pi), rng.uniform(1_200, 10_800), offset)

    out: list[Source] = []
    billing = labels(job="billing", instance="billing-0:9100")
    nets = networks(scale)
    for n, network in enumerate(nets):
        weight = 1.0 / (1 + n)  # a few busy networks, a long tail of quiet ones
        testnet = network in TESTNETS or "sepolia" in network
        fail_share = 0.05 if testnet else 0.003
        for token in TOKENS[: scale.tokens]:
            for source in SOURCES[: scale.sources]:
                base = f'{billing},network="{network}",token="{token}",source="{source}"'
                tx_rate = 2.0 * weight * rng.uniform(0.3, 1.0) / scale.sources
                for status, share in (("succeeded", 1 - fail_share), ("failed", fail_share), ("pending", 0.02)):
                    prefix = f'billing_transactions_total{{{base},status="{status}"}} '
                    out.append(src([(prefix, 1.0, True)], True, tx_rate * share))
            per_token = f'{billing},network="{network}",token="{token}"'
            out.append(
                src(
                    [(f"billing_transactions_network_failed_total{{{per_token}}} ", 1.0, True)],
                    True,
                    2.0 * weight * fail_share / scale.tokens,
                )
            )
            out.append(
                src([(f"billing_transactions_network_pending_total{{{per_token}}} ", 1.0, True)], False, 3 * weight)
            )
    for chain in CHAINS[: scale.chains]:
        for event in EVENTS:
            for method in CONTRACT_METHODS:
                for status, share in (("succeeded", 0.99), ("failed", 0.01)):
                    prefix = (
                        f'billing_contract_events_total{{{billing},event="{event}",status="{status}",'
                        f'chain_id="{chain}",method="{method}"}} '
                    )
                    out.append(src([(prefix, 1.0, True)], True, 0.05 * share))
    out.append(src([(f"billing_subscriptions_churn_ratio{{{billing}}} ", 1.0, False)], False, 0.05))

    api_routes = routes(scale)
    for r, route in enumerate(api_routes):
        median = rng.uniform(0.03, 0.3) if route not in MONITORED_ROUTES else 0.08
        for method in METHODS:
            for i in range(scale.instances):
                base = f'job="api",instance="api-{i}:8080",route="{route}",method="{method}"'
                cdf = [1.0 if le == "+Inf" else lognormal_cdf(float(le), median, 0.7) for le in BUCKETS]
                lines = [
                    (f'http_request_duration_seconds_bucket{{{base},le="{le}"}} ', c, True)
                    for le, c in zip(BUCKETS, cdf, strict=True)
                ]
                lines.append((f"http_request_duration_seconds_sum{{{base}}} ", median * 1.3, False))
                lines.append((f"http_request_duration_seconds_count{{{base}}} ", 1.0, True))
                rate = rng.uniform(0.2, 4.0) / (1 + r % 10)
                s = src(lines, True, rate, offset=(3 * i) % STEP)
                out.append(Source(s.lines, True, rate, s.phase, s.wave, s.offset, histogram=True))
    for i in range(scale.redis):
        inst = labels(job="redis", instance=f"redis-{i}:6379")
        ops = rng.uniform(50, 500)
        hit = rng.uniform(0.9, 0.99)
        out.append(src([(f"redis_keyspace_hits_total{{{inst}}} ", 1.0, True)], True, ops * hit, offset=11))
        out.append(src([(f"redis_keyspace_misses_total{{{inst}}} ", 1.0, True)], True, ops * (1 - hit), offset=11))
        limit = 0.0 if i % 10 == 9 else rng.choice([1, 2, 4, 8]) * 2**30  # some have no maxmemory
        used = (limit or 2**30) * rng.uniform(0.3, 0.55)
        out.append(src([(f"redis_memory_used_bytes{{{inst}}} ", 1.0, True)], False, used, offset=11))
        fixed = src([(f"redis_memory_max_bytes{{{inst}}} ", 1.0, True)], False, limit, offset=11)
        out.append(Source(fixed.lines, False, limit, 0.0, 1.0, 11, vary=False))
    return out


def lognormal_cdf(x: float, median: float, sigma: float) -> float:
    return 0.5 * (1 + math.erf(math.log(x / median) / (sigma * math.sqrt(2))))


def value_fn(s: Source, origin: int) -> Any:
    """f(t): for a counter the integral of a rate that follows a daily cycle (+-25%) and a
    slower per-series wave (+-15%), so it always increases; for a gauge the level times
    the same shape. `origin` is when counters were 0, shared by the history and its tails."""
    w1, w2 = 2 * math.pi / DAY, 2 * math.pi / s.wave
    a1, a2 = 0.25, 0.15
    if not s.vary:
        return lambda t: s.level
    if s.counter:
        c1, c2 = a1 / w1, a2 / w2

        def counter(t: float) -> float:
            x = t - origin
            return s.level * (x + c1 * (1 - math.cos(w1 * x + s.phase)) + c2 * (1 - math.cos(w2 * x)))

        return counter

    def gauge(t: float) -> float:
        x = t - origin
        return s.level * (1 + 2 * a1 * math.sin(w1 * x + s.phase) + 2 * a2 * math.sin(w2 * x))

    return gauge


def timestamps(start: int, end: int, offset: int, dense: list[tuple[int, int]] | None) -> list[int]:
    """Sample times in [start, end) on the `offset` grid: every STEP inside the `dense`
    windows (everywhere when None) and every SPARSE_STEP elsewhere."""
    first = start + (offset - start) % STEP
    every = range(first, end, STEP)
    if dense is None:
        return list(every)
    return [t for t in every if (t - offset) % SPARSE_STEP == 0 or any(a <= t < b for a, b in dense)]


@dataclass(frozen=True)
class Density:
    """Where series are sampled every STEP (elsewhere every SPARSE_STEP); None is everywhere."""

    series: list[tuple[int, int]] | None
    histograms: list[tuple[int, int]] | None


def write_window(out: TextIO, srcs: list[Source], origin: int, start: int, end: int, density: Density) -> int:
    """Every sample in [start, end) as OpenMetrics; returns the number of samples."""
    grids: dict[tuple[int, bool], list[tuple[int, str]]] = {}
    count = 0
    for s in srcs:
        key = (s.offset, s.histogram)
        if key not in grids:
            dense = density.histograms if s.histogram else density.series
            grids[key] = [(t, f" {t}\n") for t in timestamps(start, end, s.offset, dense)]
        grid = grids[key]
        f = value_fn(s, origin)
        values = [f(t) for t, _ in grid]
        chunk: list[str] = []
        for prefix, mult, integer in s.lines:
            if integer and not s.counter:
                chunk.extend(f"{prefix}{max(0, round(mult * v))}{ts}" for v, (_, ts) in zip(values, grid, strict=True))
            elif integer:
                chunk.extend(f"{prefix}{int(mult * v)}{ts}" for v, (_, ts) in zip(values, grid, strict=True))
            else:
                chunk.extend(f"{prefix}{mult * v:.4f}{ts}" for v, (_, ts) in zip(values, grid, strict=True))
        out.write("".join(chunk))
        count += len(chunk)
    return count


# --- the TSDB: history blocks (cacheable) and tails up to now ---------------------------


@dataclass
class Store:
    """A directory of TSDB blocks covering [origin, end), with meta.json describing it."""

    path: Path
    scale: Scale
    origin: int  # when the history starts; counters are 0 there
    anchor: int  # when the history was built; histograms are dense around anchor - 1w
    end: int
    samples: int = 0
    build_seconds: float = 0.0

    @property
    def blocks(self) -> Path:
        return self.path / "blocks"

    def save(self) -> None:
        meta = {"origin": self.origin, "anchor": self.anchor, "end": self.end, "samples": self.samples}
        (self.path / "meta.json").write_text(json.dumps(meta))

    def density(self) -> Density:
        # Series are read up to LONGEST_RANGE back; histograms only by 5m windows now and
        # one week earlier (for as long as this store may be reused).
        week_ago = (self.anchor - WEEK - 1_800, self.anchor - WEEK + DENSE_WEEK_AGO)
        return Density([(self.anchor - LONGEST_RANGE, 2**62)], [week_ago, (self.anchor - 1_800, 2**62)])


class BlockWriter:
    """Writes OpenMetrics files and converts each with promtool while the next is written
    (one promtool at a time: the machine has 2 cores)."""

    def __init__(self, blocks: Path, tmp: Path) -> None:
        self.blocks, self.tmp = blocks, tmp
        self.pending: tuple[subprocess.Popen[bytes], Path] | None = None
        blocks.mkdir(parents=True, exist_ok=True)

    def wait(self) -> None:
        if self.pending is None:
            return
        proc, path = self.pending
        self.pending = None
        _, err = proc.communicate()
        path.unlink()
        if proc.returncode != 0:
            raise RuntimeError(f"promtool tsdb create-blocks-from openmetrics failed: {err.decode()[-2000:]}")

    def add(self, srcs: list[Source], origin: int, start: int, end: int, density: Density) -> int:
        path = self.tmp / f"window-{start}.om"
        with path.open("w", buffering=1 << 20) as out:
            n = write_window(out, srcs, origin, start, end, density)
            out.write("# EOF\n")
        self.wait()
        # --max-block-duration (hidden in 2.42) makes one block per 18h window, as
        # Prometheus's compactor would, instead of re-reading the file per 2h block.
        args = ["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet"]
        args += [f"--max-block-duration={BLOCK // 3600}h", str(path), str(self.blocks)]
        self.pending = (subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), path)
        return n


def windows(start: int, end: int) -> Iterator[tuple[int, int]]:
    """[start, end) cut at multiples of BLOCK, promtool's block boundaries."""
    while start < end:
        stop = min(end, (start // BLOCK + 1) * BLOCK)
        yield start, stop
        start = stop


def cache_key(scale: Scale, days: int) -> str:
    raw = json.dumps([FORMAT_VERSION, scale.__dict__, days, STEP, SPARSE_STEP, BLOCK], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def open_store(path: Path, scale: Scale, days: int, now: int) -> Store:
    """The cached store at `path` when it is recent enough, else a new one built there."""
    meta_path = path / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        age = now - meta["anchor"]
        if age <= MAX_CACHE_AGE:
            print(f"reusing the TSDB in {path.relative_to(ROOT)} (built {age // 60} min ago)", flush=True)
            return Store(path, scale, meta["origin"], meta["anchor"], meta["end"], meta["samples"])
        print(f"the cached TSDB is {age // 60} min old (max {MAX_CACHE_AGE // 60}): rebuilding", flush=True)
    shutil.rmtree(path, ignore_errors=True)
    anchor = now - now % STEP
    store = Store(path, scale, anchor - days * DAY, anchor, anchor - days * DAY)
    extend(store, anchor, "history")
    return store


def extend(store: Store, until: int, what: str) -> None:
    """Add every sample in [store.end, until) to the store."""
    if until <= store.end:
        return
    start = time.perf_counter()
    srcs = sources(store.scale)
    with tempfile.TemporaryDirectory(prefix="bench-om-") as tmp:
        writer = BlockWriter(store.blocks, Path(tmp))
        try:
            for a, b in windows(store.end, until):
                store.samples += writer.add(srcs, store.origin, a, b, store.density())
                if what == "history":
                    print(
                        f"  {what}: {(b - store.origin) / DAY:.1f} of {(until - store.origin) / DAY:.1f} days",
                        flush=True,
                    )
        finally:
            writer.wait()
    store.end = until
    store.save()
    took = time.perf_counter() - start
    store.build_seconds += took
    if what == "history":
        print(f"built {store.samples / 1e6:.1f}M samples in {took:.0f} s", flush=True)


def link_tree(blocks: Path, target: Path) -> None:
    """A fresh TSDB directory of hard links to the blocks: Prometheus writes its WAL and
    recorded series there, never into the shared blocks (blocks are immutable; when it
    rewrites a block's meta.json it replaces the link, not the cached file)."""
    for block in sorted(blocks.iterdir()):
        if not (block / "meta.json").exists():
            continue  # an unfinished promtool write
        for file in block.rglob("*"):
            dest = target / file.relative_to(blocks)
            if file.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(file, dest)
            except OSError:
                shutil.copy2(file, dest)


# --- rule sets ------------------------------------------------------------------------


@dataclass
class RuleSet:
    name: str
    groups: list[dict[str, Any]]


def load_rules(paths: list[Path]) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in paths:
        doc = yaml.safe_load(path.read_text()) or {}
        groups.extend(doc.get("groups", []))
    return groups


QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def names_read(expr: str) -> set[str]:
    """Identifiers in a PromQL expression outside string literals (a superset of the
    metric names it reads, which is enough to find the recording rules it reads)."""
    return set(IDENT.findall(QUOTED.sub("", expr)))


def select(groups: list[dict[str, Any]], alerts: frozenset[str]) -> list[dict[str, Any]]:
    """The alerts named, and every recording rule they read directly or through other
    recording rules, in their original groups and order."""
    records = {r["record"]: str(r["expr"]) for g in groups for r in g["rules"] if "record" in r}
    needed: set[str] = set()
    todo = [str(r["expr"]) for g in groups for r in g["rules"] if r.get("alert") in alerts]
    while todo:
        for name in names_read(todo.pop()) & records.keys() - needed:
            needed.add(name)
            todo.append(records[name])
    out = []
    for g in groups:
        rules = [r for r in g["rules"] if r.get("alert") in alerts or r.get("record") in needed]
        if rules:
            out.append({**g, "rules": rules})
    return out


def rule_label(rule: dict[str, Any]) -> str:
    labels_ = rule.get("labels") or {}
    name = str(rule.get("name", "?"))
    if "long_window" in labels_:  # the burn-rate tiers share one alert name
        name += f" [{labels_['long_window']}/{labels_.get('short_window', '')}]"
    return name


# --- running Prometheus ---------------------------------------------------------------


@dataclass
class Measurement:
    rule_set: str
    rules: dict[str, list[float]] = field(default_factory=dict)  # label -> seconds per cycle
    totals: list[float] = field(default_factory=list)  # seconds per cycle, all groups
    groups: dict[str, list[float]] = field(default_factory=dict)  # group -> seconds per cycle
    errors: list[str] = field(default_factory=list)
    samples: dict[str, int] = field(default_factory=dict)  # label -> samples one evaluation reads

    def rule_medians(self) -> dict[str, float]:
        return {k: statistics.median(v) for k, v in self.rules.items() if v}

    @property
    def total(self) -> float:
        return statistics.median(self.totals) if self.totals else math.nan

    def total_of(self, groups: set[str]) -> float:
        per_cycle = [sum(self.groups[g][i] for g in groups) for i in range(len(self.totals))]
        return statistics.median(per_cycle) if per_cycle else math.nan


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:  # always http://127.0.0.1
        return json.loads(resp.read())


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(rule_set: RuleSet, store: Store, work: Path, cycles: int, warmup: int, interval: int) -> Measurement:
    """Evaluate `rule_set` every `interval` seconds on a copy of the store and collect each
    group's and rule's evaluation time over `cycles` cycles after `warmup` cycles."""
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        raise SystemExit("prometheus is not installed (make tools)")
    run = work / rule_set.name.replace(" ", "-")
    shutil.rmtree(run, ignore_errors=True)
    (run / "rules").mkdir(parents=True)
    # Only the group interval changes, so every group runs on the 5s global interval.
    groups = [{k: v for k, v in g.items() if k != "interval"} for g in rule_set.groups]
    (run / "rules" / "rules.yml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    config = {
        "global": {"evaluation_interval": f"{interval}s", "scrape_interval": "1m"},
        "rule_files": [str(run / "rules" / "rules.yml")],
    }
    (run / "prometheus.yml").write_text(yaml.safe_dump(config))
    link_tree(store.blocks, run / "tsdb")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (run / "prometheus.log").open("wb")
    args = [
        prometheus,
        f"--config.file={run / 'prometheus.yml'}",
        f"--storage.tsdb.path={run / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--storage.tsdb.retention.time={(store.end - store.origin) // DAY + 7}d",
        # Equal min and max block durations turn compaction off, so no compaction of the
        # backfilled blocks competes with rule evaluation for the CPU.
        "--storage.tsdb.min-block-duration=2h",
        "--storage.tsdb.max-block-duration=2h",
    ]
    result = Measurement(rule_set.name)
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90 + (cycles + warmup) * interval * 4
    try:
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (run / "prometheus.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"prometheus did not become ready:\n{tail}")
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{base}/-/ready", timeout=2).close()
                break
            time.sleep(0.5)
        # A cycle is recorded once every group has evaluated again since the last one
        # recorded, so each sample is one distinct evaluation of every group.
        evaluations: dict[str, int] = {}
        last_seen: dict[str, str] = {}
        recorded: dict[str, str] = {}
        while time.monotonic() < deadline:
            snapshot = get_json(f"{base}/api/v1/rules")["data"]["groups"]
            for g in snapshot:
                last = str(g.get("lastEvaluation", ""))
                if not last.startswith("0001-") and last_seen.get(g["name"]) != last:
                    last_seen[g["name"]] = last
                    evaluations[g["name"]] = evaluations.get(g["name"], 0) + 1
            warm = len(evaluations) == len(snapshot) and min(evaluations.values()) > warmup
            fresh = all(recorded.get(g["name"]) != last_seen.get(g["name"]) for g in snapshot)
            if warm and fresh:
                recorded = dict(last_seen)
                result.totals.append(sum(float(g["evaluationTime"]) for g in snapshot))
                for g in snapshot:
                    result.groups.setdefault(g["name"], []).append(float(g["evaluationTime"]))
                for g in snapshot:
                    for i, r in enumerate(g["rules"]):
                        label = rule_label(r)
                        key = (
                            label
                            if label not in result.rules or len(result.rules[label]) < len(result.totals)
                            else f"{label} #{i}"
                        )
                        result.rules.setdefault(key, []).append(float(r["evaluationTime"]))
                        if r.get("health") == "err" and r.get("lastError"):
                            result.errors.append(f"{label}: {r['lastError']}")
                if len(result.totals) >= cycles:
                    break
            time.sleep(0.5)
        # Samples read are a deterministic cost measure the noisy clock is not: evaluate
        # each rule's expression once more as a query, with statistics.
        for g in rule_set.groups:
            for i, r in enumerate(g["rules"]):
                label = rule_label({"name": r.get("alert") or r.get("record"), "labels": r.get("labels")})
                key = label if label not in result.samples else f"{label} #{i}"
                query = urllib.parse.urlencode({"query": str(r["expr"]), "stats": "all"})
                stats = get_json(f"{base}/api/v1/query?{query}")["data"].get("stats", {})
                result.samples[key] = int(stats.get("samples", {}).get("totalQueryableSamples", 0))
    finally:
        stop(proc)
        log.close()
    result.errors = sorted(set(result.errors))
    return result


# --- report ---------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:10.2f}"


def print_rules(m: Measurement) -> None:
    print(f"\n{m.rule_set}: median ms per evaluation cycle over {len(m.totals)} cycles, samples read per evaluation")
    print(f"| {'rule':<72} | {'ms/cycle':>10} | {'samples':>10} |")
    print(f"|{'-' * 74}|{'-' * 12}|{'-' * 12}|")
    for name, secs in m.rule_medians().items():
        print(f"| {name[:72]:<72} | {ms(secs)} | {m.samples.get(name, 0):>10} |")
    print(f"| {'total (all groups)':<72} | {ms(m.total)} | {sum(m.samples.values()):>10} |")
    for error in m.errors:
        print(f"  rule error: {error}")


def ratio_row(name: str, num: float, den: float, num_samples: int, den_samples: int, target: float) -> str:
    value = num / den if den else math.nan
    verdict = "met" if value <= target else "missed"
    by_samples = num_samples / den_samples if den_samples else math.nan
    shown = f"{by_samples:>6.2f}" if by_samples >= 0.01 else f"{by_samples:>6.4f}"
    return f"| {name:<48} | {value:>6.2f}x | {shown}x | <= {target}x {verdict:<6} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rules-dir", type=Path, default=GENERATED_RULES, help="the rule files to measure (*.yml)")
    parser.add_argument("--naive", type=Path, default=NAIVE_RULES, help="the hand-written baseline")
    parser.add_argument("--days", type=int, default=8, help="days of history (default 8: offset 1w needs 7+)")
    parser.add_argument("--quick", action="store_true", help="a small TSDB and fewer cycles: a smoke run")
    parser.add_argument("--keep", action="store_true", help=f"keep the TSDB in {CACHE_DIR.name}/ and reuse it")
    parser.add_argument("--cycles", type=int, default=None, help="evaluation cycles to sample (default 10)")
    parser.add_argument("--interval", type=int, default=5, help="evaluation interval in seconds (default 5)")
    args = parser.parse_args(argv)
    for tool in ("promtool", "prometheus"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed: run `make tools`", file=sys.stderr)
            return 2
    scale = Scale.quick() if args.quick else Scale()
    cycles = args.cycles or (4 if args.quick else 10)
    rules_dir: Path = args.rules_dir.resolve()
    generated = load_rules(sorted(rules_dir.glob("*.yml")))
    naive = load_rules([args.naive])
    if not generated:
        print(f"no rule files in {args.rules_dir}", file=sys.stderr)
        return 2
    label = "generated" if rules_dir == GENERATED_RULES else f"generated ({args.rules_dir})"
    rule_sets = [
        RuleSet(label, generated),
        RuleSet(f"{label}, like for like", select(generated, CORE_ALERTS)),
        RuleSet("naive", naive),
    ]
    naive_core_groups = {g["name"] for g in select(naive, CORE_ALERTS)}

    now = int(time.time())
    key = cache_key(scale, args.days)
    with tempfile.TemporaryDirectory(prefix="bench-rule-cost-") as tmp:
        store_path = CACHE_DIR / f"tsdb-{key}" if args.keep else Path(tmp) / "store"
        store = open_store(store_path, scale, args.days, now)
        n_series = sum(len(s.lines) for s in sources(scale))
        print(f"TSDB: {n_series} series, {args.days} days, {store.samples / 1e6:.1f}M samples", flush=True)
        results = []
        for rule_set in rule_sets:
            # Data up to the current minute: rules evaluate at wall-clock time.
            now = int(time.time())
            extend(store, now - now % STEP + 1, "tail")
            print(f"measuring {rule_set.name} ...", flush=True)
            results.append(measure(rule_set, store, Path(tmp), cycles, warmup=2, interval=args.interval))
    gen, like, naive_m = results
    for m in results:
        print_rules(m)
    naive_core = naive_m.total_of(naive_core_groups & naive_m.groups.keys())
    core_names = {rule_label(r | {"name": r.get("alert")}) for g in select(naive, CORE_ALERTS) for r in g["rules"]}
    naive_core_samples = sum(v for k, v in naive_m.samples.items() if k in core_names)

    print(f"\nTotals: median ms per {args.interval}s evaluation cycle (noisy shared machine: compare runs, not digits)")
    print(f"| {'rule set':<56} | {'rules':>5} | {'ms/cycle':>10} | {'samples':>10} |")
    print(f"|{'-' * 58}|{'-' * 7}|{'-' * 12}|{'-' * 12}|")
    rows = [
        (gen.rule_set, len(gen.rules), gen.total, sum(gen.samples.values())),
        (like.rule_set, len(like.rules), like.total, sum(like.samples.values())),
        ("naive, core alerts", len(core_names), naive_core, naive_core_samples),
        ("naive, core + burn rate + contract events", len(naive_m.rules), naive_m.total, sum(naive_m.samples.values())),
    ]
    for name, count, total, n in rows:
        print(f"| {name:<56} | {count:>5} | {ms(total)} | {n:>10} |")
    print(f"\n| {'ratio':<48} | {'by time':>7} | {'samples':>7} | {'target':<16} |")
    print(f"|{'-' * 50}|{'-' * 9}|{'-' * 9}|{'-' * 18}|")
    for name, a, b, target in (
        ("like for like: generated / naive core", like, None, TARGET_LIKE_FOR_LIKE),
        ("all: generated / naive with burn rate", gen, naive_m, TARGET_ALL),
    ):
        if b is None:
            print(ratio_row(name, a.total, naive_core, sum(a.samples.values()), naive_core_samples, target))
        else:
            print(ratio_row(name, a.total, b.total, sum(a.samples.values()), sum(b.samples.values()), target))

    print(f"\nWhere it goes: the 10 most expensive rules of {gen.rule_set}")
    top = sorted(gen.rule_medians().items(), key=lambda kv: -kv[1])[:10]
    print(f"| {'rule':<72} | {'ms/cycle':>10} | {'share':>6} | {'samples':>10} |")
    print(f"|{'-' * 74}|{'-' * 12}|{'-' * 8}|{'-' * 12}|")
    for name, secs in top:
        print(f"| {name[:72]:<72} | {ms(secs)} | {secs / gen.total:>6.0%} | {gen.samples.get(name, 0):>10} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
