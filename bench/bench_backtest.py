"""Benchmark `rulesgen backtest` on the issue's case: 30 days of the simulated platform
at a 1m scrape interval, every shipped alert, both environments, the embedded source
(the OpenMetrics file served by a temporary Prometheus). Target (issue 20): at most
60 s on 2 cores.

Simulates the history once, then times whole `rulesgen backtest` processes. Prints a
table of medians over the rounds: wall seconds, CPU seconds (user + system of the
process and everything it waited for: promtool and prometheus included) and the load
average before each round (the reference machine is shared; read CPU seconds when the
load is high). Not a test: nothing here passes or fails on a time.

    python bench/bench_backtest.py [--days 30] [--scrape-interval 1m] [--rounds 3] [--keep FILE]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "thresholds.yaml"


@dataclass(frozen=True)
class Round:
    wall: float
    cpu: float
    load: float  # 1-minute load average at the start
    code: int


def timed(args: list[str]) -> Round:
    """One process: wall and CPU seconds (its waited-for descendants included)."""
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
    return Round(wall, cpu, load, done.returncode)


def rulesgen(*args: str) -> list[str]:
    return [sys.executable, "-m", "rulesgen", *args]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scrape-interval", default="1m")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="simulate into this file and keep it (reused when it exists)")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        history = opts.keep or Path(tmp) / "history.om.gz"
        if not history.exists():
            sim = ["simulate", "--spec", str(SPEC), "--days", str(opts.days), "--out", str(history)]
            made = timed(rulesgen(*sim, "--scrape-interval", opts.scrape_interval))
            if made.code != 0:
                return 2
            size = history.stat().st_size / 1e6
            print(f"simulate: {opts.days} days at {opts.scrape_interval}, {size:.1f} MB,", end=" ")
            print(f"{made.wall:.1f} s wall, {made.cpu:.1f} s CPU, load {made.load:.1f}")
        rounds = []
        for _ in range(opts.rounds):
            rounds.append(
                timed(rulesgen("backtest", "--spec", str(SPEC), "--source", str(history), "--format", "json"))
            )
            if rounds[-1].code != 0:
                return 2
    print()
    print("| case | wall s | cpu s | load (1 min) | rounds (wall / cpu) |")
    print("|---|---|---|---|---|")
    each = " ".join(f"{r.wall:.1f}/{r.cpu:.1f}" for r in rounds)
    wall, cpu = statistics.median(r.wall for r in rounds), statistics.median(r.cpu for r in rounds)
    loads = f"{min(r.load for r in rounds):.1f} to {max(r.load for r in rounds):.1f}"
    case = f"backtest, {opts.days} d at {opts.scrape_interval}, all alerts, 2 envs"
    print(f"| {case} | {wall:.1f} | {cpu:.1f} | {loads} | {each} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
