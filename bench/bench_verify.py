"""Benchmark `rulesgen test`: the shipped spec, a synthetic 500-alert spec, and the same
scenarios run as one big promtool test file against the deployed rule files.

Prints a table of medians over several runs (the reference machine is shared and its
speed varies between runs, so a single run says little). Targets on the reference
machine (2 cores): shipped spec at most 2 s (whole process), 500 alerts at most 30 s,
per-alert files at least 5x faster than one big file. Every case runs with no cache
(`RULESGEN_CACHE_DIR=off`: every test file run, as in CI) but the one that says
"passes known", run after a first run remembered its passes.

    python bench/bench_verify.py [--runs 5] [--runs-500 3] [--big-runs 1] [--big-timeout 900] [--root DIR]

`--root` times another checkout of rulesgen (an older commit, for a before/after
table) with this script's cases.
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
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import synthetic_spec

ROOT = Path(__file__).resolve().parent.parent
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
TEST_GLOB = "*.promtool-test.yaml"


def timed(args: list[str], cwd: Path, timeout: float | None = None, cache: str = "off") -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (the process and its children, promtool among them) and
    exit code of one process; past `timeout`, the timeout and -1. `cache` is
    RULESGEN_CACHE_DIR (`off`: every plan made and every test file run, as in CI)."""
    env = {**os.environ, "RULESGEN_CACHE_DIR": cache}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout, env=env)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code = -1
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, code


Timing = tuple[float, float, int, list[float]]


def median_of(runs: int, args: list[str], cwd: Path, timeout: float | None = None, cache: str = "off") -> Timing:
    """Median wall and CPU seconds over `runs` runs, the worst exit code, every run's wall."""
    walls: list[float] = []
    cpus: list[float] = []
    worst = 0
    for _ in range(max(runs, 1)):
        wall, cpu, code = timed(args, cwd, timeout, cache)
        walls.append(wall)
        cpus.append(cpu)
        worst = code if code < 0 else max(worst, code)
    return statistics.median(walls), statistics.median(cpus), worst, walls


def rulesgen(*args: str) -> list[str]:
    # `python -m` puts the working directory first on sys.path: the checkout timed is
    # the one the process runs in (see --root).
    return [sys.executable, "-m", "rulesgen", *args]


def one_big_file(output: Path, env: str, target: Path) -> Path:
    """Every scenario of `env` in one test file, against all the environment's deployed
    rule files (what promtool would run without per-alert rule closures)."""
    tests: list[Any] = []
    for path in sorted((output / env / "tests").glob(TEST_GLOB)):
        tests.extend(yaml.load(path.read_text(), Loader=LOADER)["tests"])
    rules = sorted(str(p) for p in (output / env / "prometheus").iterdir() if p.suffix in (".yml", ".yaml"))
    target.write_text(yaml.safe_dump({"rule_files": rules, "evaluation_interval": "1m", "tests": tests}))
    return target


Row = tuple[str, float, float, int, str, str]


def row(name: str, result: Timing, target: str) -> Row:
    median, cpu, code, walls = result
    return name, median, cpu, code, target, " ".join(f"{w:.1f}" for w in walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of the shipped spec (median)")
    parser.add_argument("--runs-500", type=int, default=3, help="runs of the 500-alert spec (median)")
    parser.add_argument("--big-runs", type=int, default=1, help="runs of the shipped one big file (minutes each)")
    parser.add_argument("--big-timeout", type=float, default=900, help="seconds before the big file is cut off")
    parser.add_argument("--root", type=Path, default=ROOT, help="the rulesgen checkout to time")
    parser.add_argument("--skip-500", action="store_true", help="only the shipped spec")
    args = parser.parse_args()
    root: Path = args.root.resolve()
    print(f"| {'case':<48} | {'wall s':>8} | {'cpu s':>8} | exit | target | runs, wall (s) |")
    print(f"|{'-' * 50}|{'-' * 10}|{'-' * 10}|------|--------|----------|", flush=True)

    def show(name: str, secs: float, cpu: float, code: int, target: str, walls: str) -> None:
        shown = f"{secs:>8.2f} | {cpu:>8.2f}" if secs else " " * 8 + " | " + " " * 8
        print(f"| {name:<48} | {shown} | {code:>4} | {target:>6} | {walls} |", flush=True)

    show(*row("shipped spec, 2 envs: rulesgen test", median_of(args.runs, rulesgen("test"), root), "2 s"))
    with tempfile.TemporaryDirectory() as cache:
        timed(rulesgen("test"), root, cache=cache)  # the first run remembers its passes
        warm = median_of(args.runs, rulesgen("test"), root, cache=cache)
    show(*row("shipped spec, 2 envs: rulesgen test, passes known", warm, "2 s"))
    per_alert = median_of(args.runs, rulesgen("test", "--env", "prod"), root)
    show(*row("shipped prod, per-alert files (rulesgen test)", per_alert, "-"))
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_500:
            spec = Path(tmp) / "synthetic.yaml"
            spec.write_text(synthetic_spec(500))
            out = Path(tmp) / "out"
            gen = median_of(1, rulesgen("generate", "--spec", str(spec), "--output", str(out)), root)
            show(*row("500 alerts x 2 envs: rulesgen generate", gen, "-"))
            test = median_of(args.runs_500, rulesgen("test", "--spec", str(spec), "--output", str(out)), root)
            show(*row("500 alerts x 2 envs: rulesgen test", test, "30 s"))
        if args.big_runs > 0:
            # Last: it takes minutes. Exit -1 is the timeout, and the speed-up a lower bound.
            big = one_big_file(root / "output", "prod", Path(tmp) / "big.test.yaml")
            single = median_of(args.big_runs, ["promtool", "test", "rules", str(big)], root, args.big_timeout)
            show(*row("shipped prod, one big test file (promtool)", single, "-"))
            bound = ">= " if single[1] < 0 else ""
            show(f"  speed-up of per-alert files: {bound}{single[0] / per_alert[0]:.1f}x", 0.0, 0.0, 0, ">= 5x", "")


if __name__ == "__main__":
    main()
