"""One Prometheus of bench/bench_rule_cost.py: started on a copy of the synthetic TSDB with
one rule set, bounded in time, read through its own metrics and query API, stopped by PID.

Everything measured comes from Prometheus itself, so it does not depend on how loaded
the machine is: the samples a query reads (`totalQueryableSamples` of the query
statistics) and the CPU the process spent (`process_cpu_seconds_total`).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rule_cost_tsdb import DAY, Store, link_tree

READY_SECONDS = 180  # loading 8 days of blocks on a loaded machine
SAMPLE = re.compile(r'^(\w+)(?:\{rule_group="([^"]*)"\})? (\S+)$')


@dataclass(frozen=True)
class GroupState:
    evaluated: int  # iterations run (scheduled minus missed)
    last_start: float  # wall-clock seconds the last evaluation started
    last_duration: float


@dataclass(frozen=True)
class Snapshot:
    """What one read of /metrics says about the CPU and the rule groups."""

    at: float  # time.time() of the read
    cpu: float
    groups: dict[str, GroupState] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as resp:  # always http://127.0.0.1
        body: bytes = resp.read()
        return body


class Prometheus:
    """A running Prometheus evaluating `groups` every `interval` seconds (no group may
    set its own interval: a cycle is one evaluation of every group)."""

    def __init__(self, groups: list[dict[str, Any]], store: Store, run: Path, interval: int, lifetime: int) -> None:
        prometheus = shutil.which("prometheus")
        if prometheus is None:
            raise SystemExit("prometheus is not installed (make tools)")
        shutil.rmtree(run, ignore_errors=True)
        (run / "rules").mkdir(parents=True)
        rules = run / "rules" / "rules.yml"
        plain = [{k: v for k, v in g.items() if k != "interval"} for g in groups]
        rules.write_text(yaml.safe_dump({"groups": plain}, sort_keys=False))
        config = {"global": {"evaluation_interval": f"{interval}s"}, "rule_files": [str(rules)] if groups else []}
        (run / "prometheus.yml").write_text(yaml.safe_dump(config))
        link_tree(store.dirs, run / "tsdb")
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.run = run
        self.interval = interval
        # `timeout` bounds the server's life even if this process dies without stopping it.
        args = ["timeout", "--signal=TERM", "--kill-after=10", str(lifetime), prometheus]
        args += [
            f"--config.file={run / 'prometheus.yml'}",
            f"--storage.tsdb.path={run / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.retention.time={(time.time() - store.origin) // DAY + 7:.0f}d",
            # Equal min and max block durations turn compaction off, so no compaction of
            # the backfilled blocks competes with rule evaluation for the CPU.
            "--storage.tsdb.min-block-duration=2h",
            "--storage.tsdb.max-block-duration=2h",
        ]
        self.log = (run / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def failed(self, why: str) -> RuntimeError:
        tail = (self.run / "prometheus.log").read_text(errors="replace")[-2000:]
        return RuntimeError(f"prometheus {why}:\n{tail}")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise self.failed("did not become ready")
            with contextlib.suppress(OSError):
                get(f"{self.base}/-/ready")
                return
            time.sleep(0.5)

    def snapshot(self) -> Snapshot:
        at = time.time()
        cpu = 0.0
        raw: dict[str, dict[str, float]] = {}
        for line in get(f"{self.base}/metrics").decode().splitlines():
            m = SAMPLE.match(line)
            if m is None:
                continue
            name, group, value = m.group(1), m.group(2), float(m.group(3))
            if name == "process_cpu_seconds_total":
                cpu = value
            elif group is not None and name.startswith("prometheus_rule_group_"):
                raw.setdefault(group.split(";", 1)[1], {})[name.removeprefix("prometheus_rule_group_")] = value
        groups = {
            name: GroupState(
                int(v.get("iterations_total", 0) - v.get("iterations_missed_total", 0)),
                v.get("last_evaluation_timestamp_seconds", 0.0),
                v.get("last_duration_seconds", 0.0),
            )
            for name, v in raw.items()
        }
        return Snapshot(at, cpu, groups)

    def wait_warm(self, groups: int, warmup: int) -> Snapshot:
        """Wait until every group has been evaluated `warmup` times (an idle server
        waits as long as that would take)."""
        deadline = time.monotonic() + (warmup + 2) * self.interval * 6 + 60
        if groups == 0:
            time.sleep((warmup + 1) * self.interval)
            return self.snapshot()
        while time.monotonic() < deadline:
            snap = self.snapshot()
            if len(snap.groups) == groups and min(g.evaluated for g in snap.groups.values()) >= warmup:
                return snap
            time.sleep(0.5)
        raise self.failed(f"did not evaluate every group {warmup} times")

    def rule_errors(self) -> list[str]:
        groups = json.loads(get(f"{self.base}/api/v1/rules"))["data"]["groups"]
        return [f"{r['name']}: {r['lastError']}" for g in groups for r in g["rules"] if r.get("health") == "err"]

    def samples(self, expr: str, at: float) -> int:
        """The samples one evaluation of `expr` at time `at` reads."""
        query = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}", "stats": "all"})
        body = json.loads(get(f"{self.base}/api/v1/query?{query}"))
        if body.get("status") != "success":
            raise RuntimeError(f"query failed: {body.get('error')}: {expr}")
        return int(body["data"]["stats"]["samples"]["totalQueryableSamples"])

    def cpu_window(self, cycles: int, last: Snapshot) -> tuple[Snapshot, Snapshot]:
        """Two snapshots `cycles` intervals apart, both taken while no group evaluates,
        so the CPU between them is that of whole evaluation cycles."""
        start = quiet_moment(last, self.interval)
        sleep_until(start)
        first = self.snapshot()
        sleep_until(first.at + cycles * self.interval)
        return first, self.snapshot()


def sleep_until(t: float) -> None:
    time.sleep(max(0.0, t - time.time()))


def quiet_moment(snap: Snapshot, interval: int) -> float:
    """The next wall-clock time, at least one interval away, in the middle of the
    longest stretch of the interval when no group evaluates (each group starts at the
    same phase of every interval and takes about as long as it last did)."""
    bins = 200
    load = [0] * bins
    for g in snap.groups.values():
        first = int(g.last_start % interval / interval * bins)
        length = math.ceil((g.last_duration * 1.5 + 0.05) / interval * bins) + 1
        for k in range(min(bins, length)):
            load[(first + k) % bins] += 1
    low = min(load)
    best_len, best_start, run = 0, 0, 0
    for k in range(2 * bins):  # twice round: a quiet stretch may wrap past the end
        run = run + 1 if load[k % bins] == low else 0
        if best_len < run <= bins:
            best_len, best_start = run, k - run + 1
    phase = (best_start + best_len / 2) / bins * interval
    base = snap.at + interval
    return base + (phase - base) % interval


@contextlib.contextmanager
def running(
    groups: list[dict[str, Any]], store: Store, run: Path, interval: int, lifetime: int
) -> Iterator[Prometheus]:
    server = Prometheus(groups, store, run, interval, lifetime)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
        shutil.rmtree(run, ignore_errors=True)
