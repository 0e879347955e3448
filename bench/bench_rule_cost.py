"""Benchmark what the generated Prometheus rules cost to evaluate, against hand-written ones.

Rule sets compared, each evaluated by its own Prometheus 2.42:

- generated: every file of `output/prod/prometheus/` (or `--rules-dir`);
- naive: `bench/naive_rules.yml` (or `--naive`), every alert of thresholds.yaml as an SRE
  would write it by hand: `increase()`/`rate()` on the raw metrics, no recording rules,
  and the same matchers the spec declares (the bench refuses a naive file whose alerts
  are not exactly the spec's);
- like for like: both sets restricted, by the same selection, to the 8 core alerts
  (CORE_ALERTS: all but the burn rate, the contract events and the absence alert) and
  the recording rules those read, directly or through other recording rules;
- idle: the same Prometheus with no rules, the baseline subtracted from the CPU figures.

Two figures, neither of them a wall-clock time (the machine is shared and wall times
moved 3x between runs of the same rules):

- samples read per evaluation cycle: every rule's expression queried once through
  `/api/v1/query?stats=all`, summing `totalQueryableSamples`. Rules that read only
  scraped series are queried at the end of the data, so every window holds all its
  samples; rules that read a recording rule are queried after every group has run
  (`--warmup` times), when the recorded series exist. Deterministic for given data.
- Prometheus CPU per evaluation cycle: the growth of `process_cpu_seconds_total` over
  `--cycles` evaluation cycles, read at moments when no group evaluates (so the window
  holds whole cycles), minus what the idle Prometheus spends in the same time.

Each of `--rounds` rounds (default 5) starts one fresh Prometheus per rule set, in a
rotating order so load drift does not favour one set; the table shows medians and,
for CPU, the range over rounds. It is a benchmark, not a test: a missed target is
printed, never a failure. The exit code is 1 only when a rule fails to evaluate.

The synthetic TSDB (bench/rule_cost_tsdb.py) models scrape targets: every series has
`job` and `instance` labels, every target an `up` series; 8 days of history at a 1m
scrape interval where rules read it (sparser elsewhere), cached with `--keep`.

Known biases: recorded series have no history (a rule reading a recording rule's past
finds only what was recorded during the run), so such rules are measured cheap;
between the end of the data and the end of a CPU window (about a minute) the newest
samples are missing, so the CPU of 5m `rate()` windows (the naive set's) is measured
up to 20% cheap, while instant lookups (the generated counters') are not.

Run (from the repository root; needs promtool and prometheus, `make tools`):

    .venv/bin/python bench/bench_rule_cost.py            # full run, about 40 minutes
    .venv/bin/python bench/bench_rule_cost.py --quick    # small TSDB, 2 rounds: a smoke run
    .venv/bin/python bench/bench_rule_cost.py --keep     # reuse the TSDB in .bench-cache/
    .venv/bin/python bench/bench_rule_cost.py --keep --rules-dir bench/prototype_rules
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rule_cost_prometheus import Prometheus, running
from rule_cost_rules import (
    CORE_ALERTS,
    RuleSet,
    load_rules,
    reads_records,
    rule_label,
    select,
    spec_mismatch,
)
from rule_cost_tsdb import Scale, bring_to_now, cache_key, open_store, sources

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / ".bench-cache"
NAIVE_RULES = ROOT / "bench" / "naive_rules.yml"
GENERATED_RULES = ROOT / "output" / "prod" / "prometheus"
SPEC = ROOT / "thresholds.yaml"
# The targets (issue 22), read after the production-faults counting changes.
TARGET_LIKE_FOR_LIKE = 0.5
TARGET_ALL = 1.0


@dataclass
class Round:
    """One rule set's figures from one Prometheus."""

    samples: list[tuple[str, int]] = field(default_factory=list)  # per rule, in file order
    cpu: float = 0.0  # CPU seconds over the window
    wall: float = 0.0  # seconds the window lasted
    cycles: float = 0.0  # evaluations of every group in the window
    errors: list[str] = field(default_factory=list)

    @property
    def total_samples(self) -> int:
        return sum(n for _, n in self.samples)


def measure(server: Prometheus, rules: RuleSet, data_end: int, cycles: int, warmup: int) -> Round:
    warm = server.wait_warm(len(rules.groups), warmup)
    result = Round(errors=server.rule_errors())
    records = rules.record_names()
    for rule in rules.rules():
        at = warm.at if reads_records(rule, records) else data_end - 1
        result.samples.append((rule_label(rule), server.samples(str(rule["expr"]), at)))
    first, last = server.cpu_window(cycles, server.snapshot())
    result.cpu, result.wall = last.cpu - first.cpu, last.at - first.at
    done = [last.groups[g].evaluated - first.groups[g].evaluated for g in last.groups]
    result.cycles = statistics.mean(done) if done else float(cycles)
    return result


def run_rounds(args: argparse.Namespace, rule_sets: list[RuleSet], scale: Scale) -> dict[str, list[Round]]:
    results: dict[str, list[Round]] = {rs.name: [] for rs in rule_sets}
    cycles, interval = args.cycles, args.interval
    lifetime = 600 + (args.warmup + cycles) * interval * 6
    with tempfile.TemporaryDirectory(prefix="bench-rule-cost-") as tmp:
        store_path = CACHE_DIR / f"tsdb-{cache_key(scale, args.days)}" if args.keep else Path(tmp) / "store"
        store = open_store(store_path, scale, args.days, int(time.time()))
        n_series = sum(len(s.lines) for s in sources(scale))
        print(f"TSDB: {n_series} series, {args.days} days, {store.samples / 1e6:.1f}M samples of history", flush=True)
        for r in range(args.rounds):
            order = rule_sets[r % len(rule_sets) :] + rule_sets[: r % len(rule_sets)]
            for rs in order:
                data_end = bring_to_now(store, int(time.time()))
                print(f"round {r + 1}/{args.rounds}: {rs.name} ...", flush=True)
                with running(rs.groups, store, Path(tmp) / "run", interval, lifetime) as server:
                    got = measure(server, rs, data_end, cycles, args.warmup)
                results[rs.name].append(got)
                print(
                    f"  CPU {got.cpu:.2f} s in {got.wall:.1f} s, {got.cycles:g} cycles, {got.total_samples} samples",
                    flush=True,
                )
    return results


# --- report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    rules: int
    samples: int
    cpu_ms: float  # median CPU ms per cycle, idle subtracted
    cpu_range: tuple[float, float]
    steady: bool  # the samples were the same in every round


def figures(rounds: list[Round], idle: list[Round], interval: int) -> Figures:
    per_cycle = []
    for got, base in zip(rounds, idle, strict=True):
        idle_rate = base.cpu / base.wall if base.wall else 0.0
        cycles = got.cycles or 1.0
        per_cycle.append((got.cpu - idle_rate * got.wall) / cycles * 1000)
    totals = [r.total_samples for r in rounds]
    return Figures(
        len(rounds[0].samples),
        int(statistics.median(totals)),
        statistics.median(per_cycle),
        (min(per_cycle), max(per_cycle)),
        len(set(totals)) == 1,
    )


def print_rules(name: str, rounds: list[Round], core: set[str]) -> None:
    print(f"\n{name}: samples read by one evaluation of each rule (median of {len(rounds)} rounds; * like for like)")
    print(f"| {'rule':<74} | {'samples':>9} |")
    print(f"|{'-' * 76}|{'-' * 11}|")
    columns = zip(*(r.samples for r in rounds), strict=True)
    for column in columns:
        label = column[0][0]
        mark = "*" if label in core else " "
        print(f"| {mark} {label[:72]:<72} | {int(statistics.median(n for _, n in column)):>9} |")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def print_summary(rows: list[tuple[str, Figures]], idle_ms: float, interval: int) -> None:
    print(f"\nRule cost per {interval}s evaluation cycle: medians of rounds, CPU minus the idle Prometheus")
    print(f"| {'rule set':<44} | {'rules':>5} | {'samples/cycle':>13} | {'CPU ms/cycle (range)':>24} |")
    print(f"|{'-' * 46}|{'-' * 7}|{'-' * 15}|{'-' * 26}|")
    print(f"| {'idle Prometheus, no rules (subtracted)':<44} | {0:>5} | {0:>13} | {idle_ms:>24.2f} |")
    for name, f in rows:
        cpu = f"{f.cpu_ms:.1f} ({f.cpu_range[0]:.1f} to {f.cpu_range[1]:.1f})"
        print(f"| {name:<44} | {f.rules:>5} | {f.samples:>13} | {cpu:>24} |")
    by = dict(rows)
    for what, gen, naive, target in (
        ("like for like", "generated, like for like", "naive, like for like", TARGET_LIKE_FOR_LIKE),
        ("overall", "generated, all alerts", "naive, all alerts", TARGET_ALL),
    ):
        g, n = by[gen], by[naive]
        label = f"ratio generated / naive, {what}"
        print(
            f"| {label:<44} | {'':>5} | {ratio(g.samples, n.samples):>13} | {ratio(g.cpu_ms, n.cpu_ms):>24} |"
            f" target <= {target}x"
        )


def environment() -> str:
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{now}, commit {commit or '?'}, load average {load}"


def report(results: dict[str, list[Round]], core: set[str], interval: int) -> int:
    idle = results.pop("idle")
    errors = sorted({e for rounds in results.values() for r in rounds for e in r.errors})
    rows = [(name, figures(rounds, idle, interval)) for name, rounds in results.items()]
    for name in ("naive, all alerts", "generated, all alerts"):
        print_rules(name, results[name], core)
    idle_ms = statistics.median(r.cpu / r.wall * interval * 1000 for r in idle)
    print_summary(rows, idle_ms, interval)
    if not all(f.steady for _, f in rows):
        print("note: the samples differed between rounds (the medians are shown)")
    print(f"measured {environment()}")
    for error in errors:
        print(f"rule error: {error}", file=sys.stderr)
    return 1 if errors else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rules-dir", type=Path, default=GENERATED_RULES, help="the rule files to measure (*.yml)")
    parser.add_argument("--naive", type=Path, default=NAIVE_RULES, help="the hand-written baseline")
    parser.add_argument("--days", type=int, default=8, help="days of history (default 8: offset 1w needs 7+)")
    parser.add_argument("--quick", action="store_true", help="a small TSDB, 2 rounds of 3 cycles: a smoke run")
    parser.add_argument("--keep", action="store_true", help=f"keep the TSDB in {CACHE_DIR.name}/ and reuse it")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5)")
    parser.add_argument("--cycles", type=int, default=None, help="evaluation cycles per CPU window (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="evaluations of every group before measuring")
    parser.add_argument("--interval", type=int, default=5, help="evaluation interval in seconds (default 5)")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (2 if args.quick else 5)
    args.cycles = args.cycles or (3 if args.quick else 10)
    return args


def rule_sets(args: argparse.Namespace) -> list[RuleSet]:
    """idle, then each set and its like-for-like part; SystemExit(2) on bad input."""
    generated = load_rules(sorted(args.rules_dir.glob("*.yml")))
    if not generated:
        raise SystemExit(f"{args.rules_dir}: no rule files (*.yml)")
    naive = load_rules([args.naive])
    try:
        mismatch = spec_mismatch(naive, SPEC)
    except SystemExit as exc:
        raise SystemExit(f"{args.naive}: {exc}") from None
    if mismatch:
        raise SystemExit(f"{args.naive}: not the alerts of {SPEC.name}: {mismatch}")
    return [
        RuleSet("idle", []),
        RuleSet("naive, like for like", select(naive, CORE_ALERTS)),
        RuleSet("generated, like for like", select(generated, CORE_ALERTS)),
        RuleSet("naive, all alerts", naive),
        RuleSet("generated, all alerts", generated),
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for tool in ("promtool", "prometheus", "timeout"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed: run `make tools`", file=sys.stderr)
            return 2
    try:
        sets = rule_sets(args)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    scale = Scale.quick() if args.quick else Scale()
    results = run_rounds(args, sets, scale)
    core = {rule_label(r) for rs in sets if rs.name.endswith("like for like") for r in rs.rules()}
    print(f"\nrules measured: {args.rules_dir} against {args.naive}")
    return report(results, core, args.interval)


if __name__ == "__main__":
    sys.exit(main())
