"""Benchmark `rulesgen generate` (rules, tests, routing, dashboards), whole process.

Prints the shipped spec's time against the import floor (a Python process that only
imports the libraries rulesgen uses), then a scaling table: synthetic specs of 500,
1,000, 2,000 and 5,000 alerts x 2 environments with wall time and peak memory (max RSS
of each child process), and the growth exponent k of time ~ n^k (least squares of
log time against log n; 1 is linear). Every number is a median over several runs:
the reference machine has 2 cores and is shared, so single runs vary by tens of
percent. Targets on it (issue 22, CPU seconds): the shipped spec within 2.5x the import
floor; 500 alerts in at most 3 s; 5,000 alerts in at most 30 s and 400 MB; growth
exponent at most 1.05. For the largest size it also prints `generate` over its own
output, and with every plan known (a warm plan cache): rendering and writing alone.

`--stages` adds where the time of an in-process 5,000-alert compile goes.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("counter_increase", "ratio", "gauge_threshold", "gauge_ratio", "latency_regression", "burn_rate")


def synthetic_alert(i: int, kinds: Sequence[str] = KINDS) -> dict[str, Any]:
    kind = kinds[i % len(kinds)]
    common: dict[str, Any] = {
        "name": f"Synthetic{i}",
        "kind": kind,
        "severity": "critical",
        "team": f"team{i % 10}",
        "summary": f"synthetic alert {i} of kind [[ kind ]]",
    }
    sel = {"metric": f"c{i % 50}_total", "matchers": {"status": "failed"}}
    if kind == "counter_increase":
        return {**common, **sel, "by": ["network"], "window": "5m", "threshold": i % 7}
    if kind == "ratio":
        return {
            **common,
            "numerator": sel,
            "denominator": [{"metric": sel["metric"]}],
            "by": ["network"],
            "window": "5m",
            "threshold": 0.1,
        }
    if kind == "gauge_threshold":
        return {**common, "metric": f"g{i % 50}", "by": ["network"], "threshold": i}
    if kind == "gauge_ratio":
        return {
            **common,
            "numerator": {"metric": f"g{i % 50}"},
            "denominator": {"metric": f"g{(i + 1) % 50}"},
            "by": ["network"],
            "threshold": 0.6,
        }
    if kind == "latency_regression":
        return {
            **common,
            "metric": f"h{i % 50}",
            "matchers": {"route": f"/v1/r{i}"},
            "threshold": 0.2,
            "floor": "100ms",
        }
    return {
        **common,
        "errors": sel,
        "total": {"metric": sel["metric"]},
        "objective": 0.99,
        "ticket_severity": "warning",
        "quantity": f"slo{i}",
    }


def synthetic_spec(n: int, kinds: Sequence[str] = KINDS) -> str:
    labels = ["status", "network", "route"]
    metrics: dict[str, Any] = {}
    for j in range(50):
        metrics[f"c{j}_total"] = {"type": "counter", "labels": labels}
        metrics[f"g{j}"] = {"type": "gauge", "labels": labels}
        metrics[f"h{j}"] = {"type": "histogram", "labels": labels}
    return yaml.safe_dump(
        {
            "version": 1,
            "settings": {"runbook_base_url": "https://r.example", "grafana_base_url": "https://g.example"},
            "environments": {"prod": {}, "staging": {"overrides": {"Synthetic0": {"threshold": 9}}}},
            "teams": {f"team{t}": {} for t in range(10)},
            "severities": {"critical": {}, "warning": {}},
            "metrics": metrics,
            "alerts": [synthetic_alert(i, kinds) for i in range(n)],
        },
        sort_keys=False,
    )


IMPORT_FLOOR = "import pydantic, yaml, grafanalib, promql_parser"
SIZES = (500, 1000, 2000, 5000)


def measure(args: list[str], cache: str = "off") -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one child process
    (its own rusage, from wait4). On a loaded machine CPU time varies less than wall.
    `cache` is the plan cache's directory (`off`: plans every alert, as a first run)."""
    start = time.perf_counter()
    env = {**os.environ, "RULESGEN_CACHE_DIR": cache}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(
            f"{' '.join(args)} exited {proc.returncode}: {proc.stderr.read().decode() if proc.stderr else ''}"
        )
    if proc.stderr:
        proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def median_of(args: list[str], runs: int, output: Path | None = None, cache: str = "off") -> tuple[float, float, float]:
    """Median wall seconds, CPU seconds and peak MB over `runs` runs, each writing a
    fresh `output` (comparing with an existing tree would read all of it first)."""
    results = []
    for _ in range(runs):
        if output is not None:
            shutil.rmtree(output, ignore_errors=True)
        results.append(measure(args, cache))
    wall, cpu, rss = (statistics.median(r[i] for r in results) for i in range(3))
    return wall, cpu, rss


def generate(spec: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "rulesgen", "generate", "--spec", str(spec), "--output", str(out)]


def growth_exponent(points: list[tuple[int, float]]) -> float:
    """k in time ~ n^k: the least-squares slope of log(time) against log(n)."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


# Each command on the shipped spec, and the multiple of the import floor's CPU it
# may cost (issue: validate, lint and explain 2.5x, generate 5x).
COMMANDS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("validate", ("validate",), 2.5),
    ("lint", ("lint",), 2.5),
    ("explain", ("explain", "BillingPendingBacklog"), 2.5),
    ("check", ("check",), 2.5),
    ("generate", ("generate",), 5.0),
)


def commands(spec: Path, out: Path, floor_cpu: float, cache: Path, runs: int) -> None:
    """Each command with no cache (a first run, or RULESGEN_CACHE_DIR=off) and with a
    warm one (what an earlier `generate` and an earlier run of the same command left,
    as on a workstation)."""
    base = [sys.executable, "-m", "rulesgen"]
    measure([*base, "generate", "--spec", str(spec), "--output", str(out)], str(cache))  # warms the cache
    for name, words, times in COMMANDS:
        args = [*base, *words, "--spec", str(spec)]
        if name in ("check", "generate"):
            args += ["--output", str(out)]
        measure(args, str(cache))  # what this command itself remembers (lint's result, check's schema)
        for state, where in (("no cache", "off"), ("warm cache", str(cache))):
            wall, cpu, rss = median_of(args, runs, cache=where)
            target = f"{times}x floor: cpu {cpu / floor_cpu:.1f}x"
            print(f"| shipped: {' '.join(words)}, {state} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {target} |")


def runs_for(n: int, runs: int | None = None) -> int:
    """Five runs of small cases, three of the large ones, unless `runs` says otherwise."""
    if runs is not None:
        return runs
    return 5 if n <= 1000 else 3


def main(sizes: tuple[int, ...] = SIZES, runs: int | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        floor, floor_cpu, floor_mb = median_of([sys.executable, "-c", IMPORT_FLOOR], runs or 5)
        # Copied so the output's provenance header names thresholds.yaml, as in output/.
        shipped = Path(tmp) / "shipped" / "thresholds.yaml"
        shipped.parent.mkdir()
        shipped.write_text((ROOT / "thresholds.yaml").read_text())
        out = Path(tmp) / "out-shipped"
        wall, cpu, rss = median_of(generate(shipped, out), runs or 5, out)
        print(f"| case (medians, {os.cpu_count()} cores) | wall s | cpu s | peak MB | target |")
        print("|---|---|---|---|---|")
        print(f"| import floor: `python -c '{IMPORT_FLOOR}'` | {floor:.2f} | {floor_cpu:.2f} | {floor_mb:.0f} | - |")
        ratio = f"{wall / floor:.1f}x (cpu {cpu / floor_cpu:.1f}x)"
        print(f"| shipped thresholds.yaml: generate | {wall:.2f} | {cpu:.2f} | {rss:.0f} | 2.5x floor: {ratio} |")
        commands(shipped, out, floor_cpu, Path(tmp) / "plans", runs or 5)
        walls, cpus = [], []
        for n in sizes:
            spec = Path(tmp) / f"synthetic-{n}.yaml"
            spec.write_text(synthetic_spec(n))
            out = Path(tmp) / f"out-{n}"
            wall, cpu, rss = median_of(generate(spec, out), runs_for(n, runs), out)
            walls.append((n, wall))
            cpus.append((n, cpu))
            target = {500: "3 s cpu", 5000: "30 s cpu, 400 MB"}.get(n, "-")
            print(f"| {n:,} alerts x 2 envs: generate | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {target} |")
            if n == max(sizes):
                # Over the tree the last run wrote: the writer reads and compares all of it.
                wall, cpu, rss = measure(generate(spec, out))
                print(f"| {n:,} alerts, again over its own output | {wall:.2f} | {cpu:.2f} | {rss:.0f} | - |")
                known(spec, Path(tmp), n)
    if len(walls) > 1:
        span = f"{walls[0][0]:,} to {walls[-1][0]:,} alerts"
        print(
            f"\ngrowth exponent (time ~ n^k, {span}): "
            f"k = {growth_exponent(walls):.2f} wall, {growth_exponent(cpus):.2f} cpu"
        )


def known(spec: Path, tmp: Path, n: int) -> None:
    """`generate` with every plan already known (a plan cache an earlier run filled):
    what rendering, checking and writing the output cost without any planning, the
    floor under the targets for as long as the tests are this large."""
    cache, out = tmp / "plans-synthetic", tmp / "out-known"
    measure(generate(spec, out), str(cache))
    shutil.rmtree(out)
    wall, cpu, rss = measure(generate(spec, out), str(cache))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
    print(f"| {n:,} alerts, every plan known ({size:,.0f} MB written) | {wall:.2f} | {cpu:.2f} | {rss:.0f} | - |")


def stages(n: int) -> None:
    """Where the time of a compile with tests goes, stage by stage, in this process
    (with the collector settings the command line uses)."""
    from rulesgen.cli import _quiet_gc
    from rulesgen.ir import ProgramIR
    from rulesgen.lower.alerts import AlertCompiler
    from rulesgen.pipeline import lint_and_lower
    from rulesgen.spec.validate import parse_spec
    from rulesgen.targets import registry, target_options
    from rulesgen.testgen.generate import generate_tests

    text = synthetic_spec(n)
    rows = []
    with _quiet_gc():
        start = time.perf_counter()
        doc = parse_spec(text, "synthetic.yaml")
        rows.append(("load + validate", time.perf_counter() - start))
        start = time.perf_counter()
        _, contexts = lint_and_lower(doc)
        program = ProgramIR(source="synthetic.yaml", envs=tuple(c.ir for c in contexts if c.ir))
        rows.append(("lint + lower", time.perf_counter() - start))
        start = time.perf_counter()
        pairs = [(compiled, alert.model) for ctx in contexts for alert, compiled in ctx.compiled()]
        suite = generate_tests(doc, AlertCompiler(doc).resolve, pairs)
        rows.append(("test generation", time.perf_counter() - start))
        for name, options in target_options(doc, []).items():
            start = time.perf_counter()
            registry()[name].run(program, suite, options)
            rows.append((f"target {name}", time.perf_counter() - start))
    print(f"\n| stage ({n:,} alerts x 2 envs, with tests, in-process) | seconds |")
    print("|---|---|")
    for name, secs in rows:
        print(f"| {name} | {secs:.2f} |")


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="alert counts (default: %(default)s)")
    cli.add_argument("--runs", type=int, help="runs per case (default: 5, or 3 from 2,000 alerts)")
    cli.add_argument("--stages", action="store_true", help="also time the stages of a 5,000-alert compile")
    args = cli.parse_args()
    main(tuple(args.sizes), args.runs)
    if args.stages:
        stages(5000)
