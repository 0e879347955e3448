"""Benchmark `rulesgen mutate`: the shipped spec (both environments, which share the
verdicts of alerts they do not override), and a synthetic spec of 100 alerts (every
kind in turn; see bench_generate.synthetic_spec).

Prints a table: wall and CPU seconds (user + system of rulesgen and its promtool
children) of whole `rulesgen mutate --format json` processes, with the mutants run,
the promtool files they took and the score. The median of `--runs` runs (the
reference machine is shared and noisy; mutation runs take minutes, so one run is the
default).

    python bench/bench_mutate.py [--runs 1] [--jobs 2] [--alerts 100] [--kinds K,...] [--skip-synthetic | --skip-shipped]
        [--root DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import KINDS, synthetic_spec

ROOT = Path(__file__).resolve().parent.parent
# As in CI: every plan made, and nothing of the benchmark's specs kept in the user's
# cache (rulesgen.cache), whose state would otherwise decide what is timed.
ENV = {**os.environ, "RULESGEN_CACHE_DIR": "off"}


def run(args: list[str], cwd: Path) -> tuple[float, float, dict[str, Any]]:
    """Wall and CPU seconds (children included) of one process, and its JSON report."""
    start = time.perf_counter()
    before = os.times()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, env=ENV)
    after = os.times()
    wall = time.perf_counter() - start
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr or proc.stdout}")
    return wall, cpu, json.loads(proc.stdout)


def summary(report: dict[str, Any]) -> tuple[int, int, str]:
    """Mutants, those scored (not equivalent), and the scores per environment."""
    details = [d for a in report["alerts"] for d in a["details"]]
    ran = sum(d["status"] != "equivalent" for d in details)
    scores = ", ".join(f"{env} {100 * (v['score'] or 0):.1f}%" for env, v in sorted(report["envs"].items()))
    return len(details), ran, scores


def case(name: str, args: list[str], cwd: Path, runs: int) -> None:
    walls, cpus = [], []
    report: dict[str, Any] = {}
    for _ in range(max(runs, 1)):
        wall, cpu, report = run(args, cwd)
        walls.append(wall)
        cpus.append(cpu)
    mutants, ran, scores = summary(report)
    print(
        f"| {name:<40} | {statistics.median(walls):>8.1f} | {statistics.median(cpus):>8.1f} |"
        f" {mutants:>7} | {ran:>6} | {scores} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="runs per case (median)")
    parser.add_argument("--jobs", type=int, default=2, help="promtool processes at once")
    parser.add_argument("--alerts", type=int, default=100, help="alerts in the synthetic spec")
    parser.add_argument("--skip-synthetic", action="store_true", help="only the shipped spec")
    parser.add_argument("--skip-shipped", action="store_true", help="only the synthetic spec")
    parser.add_argument(
        "--kinds",
        default=",".join(k for k in KINDS if k != "burn_rate"),
        help="kinds of the synthetic alerts, in turn (default: all but burn_rate, whose 343 mutants"
        " an alert take some 15 CPU minutes: 100 alerts with them would take hours)",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the rulesgen checkout to time")
    args = parser.parse_args()
    root: Path = args.root.resolve()
    rulesgen = [sys.executable, "-m", "rulesgen"]
    jobs = ["--jobs", str(args.jobs), "--format", "json"]
    print(f"| {'case':<40} | {'wall s':>8} | {'cpu s':>8} | mutants | scored | score |")
    print(f"|{'-' * 42}|{'-' * 10}|{'-' * 10}|---------|--------|-------|", flush=True)
    if not args.skip_shipped:
        case("shipped spec, prod and staging", [*rulesgen, "mutate", *jobs], root, args.runs)
    if args.skip_synthetic:
        return
    with tempfile.TemporaryDirectory() as tmp:
        spec, out = Path(tmp) / "synthetic.yaml", Path(tmp) / "out"
        kinds = args.kinds.split(",")
        spec.write_text(synthetic_spec(args.alerts, kinds))
        subprocess.run(
            [*rulesgen, "generate", "--spec", str(spec), "--output", str(out)], cwd=root, check=True, env=ENV
        )
        where = ["--spec", str(spec), "--output", str(out), "--env", "prod"]
        name = f"{args.alerts} synthetic alerts ({len(kinds)} kinds), prod"
        case(name, [*rulesgen, "mutate", *where, *jobs], root, args.runs)


if __name__ == "__main__":
    main()
