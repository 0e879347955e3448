"""Benchmark `rulesgen generate`: a synthetic 5,000-alert spec and the shipped spec.

Prints a table of wall time and peak memory (max RSS of the child process).
Targets on the reference machine (2 cores): 5,000 alerts in at most 5 s and 300 MB;
the shipped spec in at most 1 s, whole process.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("counter_increase", "ratio", "gauge_threshold", "gauge_ratio", "latency_regression", "burn_rate")


def synthetic_alert(i: int) -> dict[str, Any]:
    kind = KINDS[i % len(KINDS)]
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


def synthetic_spec(n: int) -> str:
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
            "alerts": [synthetic_alert(i) for i in range(n)],
        },
        sort_keys=False,
    )


RULES_ONLY = (
    "import sys; from rulesgen.pipeline import build_text; "
    "build_text(open(sys.argv[1]).read(), 'synthetic.yaml', tests=False)"
)


def measure(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process. RUSAGE_CHILDREN's maxrss is the
    largest child so far, so cases run smallest first."""
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    wall = time.perf_counter() - start
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def generate(spec: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "rulesgen", "generate", "--spec", str(spec), "--output", str(out)]


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp) / "synthetic-500.yaml", Path(tmp) / "synthetic-5000.yaml"
        small.write_text(synthetic_spec(500))
        big.write_text(synthetic_spec(5000))
        wall, rss = measure(generate(ROOT / "thresholds.yaml", Path(tmp) / "out-shipped"))
        rows.append(("shipped thresholds.yaml: generate (everything)", wall, rss, "1 s", "-"))
        wall, rss = measure([sys.executable, "-c", RULES_ONLY, str(big)])
        rows.append(("5,000 alerts x 2 envs: rules, routing, dashboards", wall, rss, "5 s", "300 MB"))
        wall, rss = measure(generate(small, Path(tmp) / "out-500"))
        rows.append(("500 alerts x 2 envs: generate (with tests)", wall, rss, "-", "-"))
    print(f"| {'case':<50} | {'wall s':>7} | {'peak MB':>8} | target time | target mem |")
    print(f"|{'-' * 52}|{'-' * 9}|{'-' * 10}|-------------|------------|")
    for name, wall, rss, t_target, m_target in rows:
        print(f"| {name:<50} | {wall:>7.2f} | {rss:>8.1f} | {t_target:>11} | {m_target:>10} |")


def stages(n: int) -> None:
    """Where the time of the rules-only compile goes, stage by stage, in this process."""
    from rulesgen.emit import registry, target_options
    from rulesgen.ir import TestSuite
    from rulesgen.pipeline import compile_spec
    from rulesgen.spec.validate import parse_spec

    text = synthetic_spec(n)
    start = time.perf_counter()
    spec = parse_spec(text, "synthetic.yaml")
    rows = [("load + validate", time.perf_counter() - start)]
    start = time.perf_counter()
    program = compile_spec(spec, tests=False)
    rows.append(("lint + lower", time.perf_counter() - start))
    for name, options in target_options(spec, []).items():
        start = time.perf_counter()
        registry()[name].run(program, TestSuite(), options)
        rows.append((f"target {name}", time.perf_counter() - start))
    print(f"\n| stage ({n:,} alerts x 2 envs, no tests) | seconds |")
    print("|---|---|")
    for name, secs in rows:
        print(f"| {name} | {secs:.2f} |")


if __name__ == "__main__":
    main()
    stages(5000)
