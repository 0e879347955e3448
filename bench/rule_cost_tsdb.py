"""The synthetic TSDB of bench/bench_rule_cost.py: a production-like platform's series
written as TSDB blocks, cached between runs, and extended up to the current minute.

The platform is modelled as its scrape targets: every series carries the `job` and
`instance` labels of the target that exposes it (3 billing replicas, 10 API instances,
50 Redis instances at full scale), and every target has an `up{job, instance}` series
at 1, because counting rules may read `up` to tell a missed scrape from a counter reset.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

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
FORMAT_VERSION = 3  # bump when the synthetic data changes, to invalidate caches

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
    """Cardinality of the synthetic platform (`billing`, `instances` and `redis` are the
    scrape targets of each job)."""

    networks: int = 20
    tokens: int = 8
    sources: int = 4
    routes: int = 60
    instances: int = 10
    redis: int = 50
    chains: int = 5
    billing: int = 3

    @classmethod
    def quick(cls) -> Scale:
        return cls(networks=4, tokens=2, sources=2, routes=6, instances=2, redis=5, chains=2, billing=2)


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


@dataclass(frozen=True)
class Target:
    """One scrape target: the labels Prometheus attaches to what it scrapes there, and
    the second of the minute it is scraped at (targets are spread over the interval)."""

    job: str
    instance: str
    offset: int

    @property
    def labels(self) -> str:
        return labels(job=self.job, instance=self.instance)


class Factory:
    """Makes Sources with the random draws in a fixed order: the same Scale gives the
    same TSDB."""

    def __init__(self) -> None:
        self.rng = random.Random(42)

    def make(self, lines: list[tuple[str, float, bool]], counter: bool, level: float, target: Target) -> Source:
        rng = self.rng
        return Source(
            tuple(lines), counter, level, rng.uniform(0, 2 * math.pi), rng.uniform(1_200, 10_800), target.offset
        )

    def up(self, target: Target) -> Source:
        """`up` is 1 all along: every scrape of the synthetic platform succeeds."""
        return Source(((f"up{{{target.labels}}} ", 1.0, True),), False, 1.0, 0.0, 1.0, target.offset, vary=False)


def targets(job: str, count: int, port: int, first_offset: int) -> list[Target]:
    return [Target(job, f"{job}-{i}:{port}", (first_offset + 7 * i) % STEP) for i in range(count)]


def sources(scale: Scale) -> list[Source]:
    make = Factory()
    billing = targets("billing", scale.billing, 9100, 7)
    api = targets("api", scale.instances, 8080, 0)
    redis = targets("redis", scale.redis, 9121, 11)
    out = [make.up(t) for t in billing + api + redis]
    out += billing_sources(scale, make, billing)
    out += api_sources(scale, make, api)
    out += redis_sources(make, redis)
    out += recorded_sources(make)
    return out


TILE_RECORD = "network_status:billing_transactions:increase1h"


def recorded_sources(make: Factory) -> list[Source]:
    """What the generated rules record while deployed, where they read it back over
    days: the burn rate's ticket windows sum its hourly count at whole hours. A
    Prometheus that has run the rules for days holds it; the naive rules never read it."""
    rules = Target("rules", "prometheus", 0)
    return [
        make.make([(f'{TILE_RECORD}{{network="{network}",status="{status}"}} ', 1.0, True)], False, 3_600.0, rules)
        for network in MAINNETS
        for status in ("failed", "succeeded")
    ]


def billing_sources(scale: Scale, make: Factory, replicas: list[Target]) -> list[Source]:
    """Every replica exports its own share of the platform's transactions, so a sum by
    network reads one series per replica."""
    rng = make.rng
    out: list[Source] = []
    share = 1.0 / len(replicas)
    for n, network in enumerate(networks(scale)):
        weight = 1.0 / (1 + n)  # a few busy networks, a long tail of quiet ones
        testnet = network in TESTNETS or "sepolia" in network
        fail_share = 0.05 if testnet else 0.003
        for token in TOKENS[: scale.tokens]:
            for source in SOURCES[: scale.sources]:
                tx_rate = 2.0 * weight * rng.uniform(0.3, 1.0) / scale.sources
                for t in replicas:
                    base = f'{t.labels},network="{network}",token="{token}",source="{source}"'
                    for status, part in (("succeeded", 1 - fail_share), ("failed", fail_share), ("pending", 0.02)):
                        prefix = f'billing_transactions_total{{{base},status="{status}"}} '
                        out.append(make.make([(prefix, 1.0, True)], True, tx_rate * part * share, t))
            for t in replicas:
                per_token = f'{t.labels},network="{network}",token="{token}"'
                failed = f"billing_transactions_network_failed_total{{{per_token}}} "
                out.append(make.make([(failed, 1.0, True)], True, 2.0 * weight * fail_share * share / scale.tokens, t))
                pending = f"billing_transactions_network_pending_total{{{per_token}}} "
                out.append(make.make([(pending, 1.0, True)], False, 3 * weight * share, t))
    for chain in CHAINS[: scale.chains]:
        for event in EVENTS:
            for method in CONTRACT_METHODS:
                for status, part in (("succeeded", 0.99), ("failed", 0.01)):
                    for t in replicas:
                        prefix = (
                            f'billing_contract_events_total{{{t.labels},event="{event}",status="{status}",'
                            f'chain_id="{chain}",method="{method}"}} '
                        )
                        out.append(make.make([(prefix, 1.0, True)], True, 0.05 * part * share, t))
    for t in replicas:  # every replica reports the platform-wide churn
        out.append(make.make([(f"billing_subscriptions_churn_ratio{{{t.labels}}} ", 1.0, False)], False, 0.05, t))
    return out


def api_sources(scale: Scale, make: Factory, instances: list[Target]) -> list[Source]:
    rng = make.rng
    out: list[Source] = []
    cdfs: dict[float, list[float]] = {}
    for r, route in enumerate(routes(scale)):
        median = rng.uniform(0.03, 0.3) if route not in MONITORED_ROUTES else 0.08
        cdf = cdfs.setdefault(
            median, [1.0 if le == "+Inf" else lognormal_cdf(float(le), median, 0.7) for le in BUCKETS]
        )
        for method in METHODS:
            for t in instances:
                base = f'{t.labels},route="{route}",method="{method}"'
                lines = [
                    (f'http_request_duration_seconds_bucket{{{base},le="{le}"}} ', c, True)
                    for le, c in zip(BUCKETS, cdf, strict=True)
                ]
                lines.append((f"http_request_duration_seconds_sum{{{base}}} ", median * 1.3, False))
                lines.append((f"http_request_duration_seconds_count{{{base}}} ", 1.0, True))
                rate = rng.uniform(0.2, 4.0) / (1 + r % 10)
                s = make.make(lines, True, rate, t)
                out.append(Source(s.lines, True, rate, s.phase, s.wave, s.offset, histogram=True))
    return out


def redis_sources(make: Factory, instances: list[Target]) -> list[Source]:
    rng = make.rng
    out: list[Source] = []
    for i, t in enumerate(instances):
        inst = t.labels
        ops = rng.uniform(50, 500)
        hit = rng.uniform(0.9, 0.99)
        out.append(make.make([(f"redis_keyspace_hits_total{{{inst}}} ", 1.0, True)], True, ops * hit, t))
        out.append(make.make([(f"redis_keyspace_misses_total{{{inst}}} ", 1.0, True)], True, ops * (1 - hit), t))
        limit = 0.0 if i % 10 == 9 else rng.choice([1, 2, 4, 8]) * 2**30  # some have no maxmemory
        used = (limit or 2**30) * rng.uniform(0.3, 0.55)
        out.append(make.make([(f"redis_memory_used_bytes{{{inst}}} ", 1.0, True)], False, used, t))
        max_line = [(f"redis_memory_max_bytes{{{inst}}} ", 1.0, True)]
        out.append(Source(tuple(max_line), False, limit, 0.0, 1.0, t.offset, vary=False))
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
    """TSDB blocks: the history [origin, end) in `blocks/` (cacheable, meta.json describes
    it), then a tail [end, tail_end) in `tail/` and a tip [tail_end, now) in `tip/`.

    Rules evaluate at wall-clock time, so the data must reach the current minute before
    each measurement. The tail is rewritten every TAIL_REFRESH and the short tip before
    every measurement, so every Prometheus sees the same few blocks (appending a block
    per measurement would make later measurements merge more blocks)."""

    path: Path
    scale: Scale
    origin: int  # when the history starts; counters are 0 there
    anchor: int  # when the history was built; histograms are dense around anchor - 1w
    end: int
    samples: int = 0
    tail_end: int | None = None

    @property
    def blocks(self) -> Path:
        return self.path / "blocks"

    @property
    def dirs(self) -> list[Path]:
        return [self.blocks, self.path / "tail", self.path / "tip"]

    def save(self) -> None:
        meta = {"origin": self.origin, "anchor": self.anchor, "end": self.end, "samples": self.samples}
        (self.path / "meta.json").write_text(json.dumps(meta))

    def density(self) -> Density:
        # Series are read up to LONGEST_RANGE back; histograms only by 5m windows now and
        # one week earlier (for as long as this store may be reused).
        week_ago = (self.anchor - WEEK - 1_800, self.anchor - WEEK + DENSE_WEEK_AGO)
        return Density([(self.anchor - LONGEST_RANGE, 2**62)], [week_ago, (self.anchor - 1_800, 2**62)])


TAIL_REFRESH = 10 * 60


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
            print(f"reusing the TSDB in {path} (built {age // 60} min ago)", flush=True)
            store = Store(path, scale, meta["origin"], meta["anchor"], meta["end"], meta["samples"])
            for old in store.dirs[1:]:
                shutil.rmtree(old, ignore_errors=True)
            return store
        print(f"the cached TSDB is {age // 60} min old (max {MAX_CACHE_AGE // 60}): rebuilding", flush=True)
    shutil.rmtree(path, ignore_errors=True)
    anchor = now - now % STEP
    store = Store(path, scale, anchor - days * DAY, anchor, anchor - days * DAY)
    started = time.perf_counter()
    store.samples = write_blocks(store, store.blocks, store.end, anchor, progress=True)
    store.end = anchor
    store.save()
    print(f"built {store.samples / 1e6:.1f}M samples in {time.perf_counter() - started:.0f} s", flush=True)
    return store


def write_blocks(store: Store, dest: Path, start: int, until: int, progress: bool = False) -> int:
    """Every sample in [start, until) as blocks in `dest`; returns the number of samples."""
    srcs = sources(store.scale)
    count = 0
    with tempfile.TemporaryDirectory(prefix="bench-om-") as tmp:
        writer = BlockWriter(dest, Path(tmp))
        try:
            for a, b in windows(start, until):
                count += writer.add(srcs, store.origin, a, b, store.density())
                if progress:
                    print(
                        f"  history: {(b - store.origin) / DAY:.1f} of {(until - store.origin) / DAY:.1f} days",
                        flush=True,
                    )
        finally:
            writer.wait()
    return count


def bring_to_now(store: Store, now: int) -> int:
    """Rewrite the tip (and the tail when it is old) so the data reaches the current
    minute; returns the data's end: every sample is before it, none is missing."""
    minute = now - now % STEP
    tail, tip = store.dirs[1:]
    tail_until = max(store.end, minute - STEP)
    if store.tail_end is None or tail_until - store.tail_end > TAIL_REFRESH:
        shutil.rmtree(tail, ignore_errors=True)
        write_blocks(store, tail, store.end, tail_until)
        store.tail_end = tail_until
    shutil.rmtree(tip, ignore_errors=True)
    until = minute + 1
    write_blocks(store, tip, store.tail_end, until)
    return until


def link_tree(dirs: list[Path], target: Path) -> None:
    """A fresh TSDB directory of hard links to the blocks: Prometheus writes its WAL and
    recorded series there, never into the shared blocks (blocks are immutable; when it
    rewrites a block's meta.json it replaces the link, not the cached file)."""
    for blocks in dirs:
        for block in sorted(blocks.iterdir()) if blocks.is_dir() else []:
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
