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


def measure(spec: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `rulesgen generate` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "rulesgen", "generate", "--spec", str(spec), "--output", str(out)],
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "synthetic.yaml"
        big.write_text(synthetic_spec(5000))
        # Each measurement in a fresh child; ru_maxrss of children is a running max,
        # so the small case runs first.
        wall, rss = measure(ROOT / "thresholds.yaml", Path(tmp) / "out-shipped")
        rows.append(("shipped thresholds.yaml (10 alerts, 2 envs)", wall, rss, "1 s", "-"))
        wall, rss = measure(big, Path(tmp) / "out-big")
        rows.append(("synthetic, 5,000 alerts x 2 envs", wall, rss, "5 s", "300 MB"))
    print(f"| {'case':<45} | {'wall s':>7} | {'peak MB':>8} | target time | target mem |")
    print(f"|{'-' * 47}|{'-' * 9}|{'-' * 10}|-------------|------------|")
    for name, wall, rss, t_target, m_target in rows:
        print(f"| {name:<45} | {wall:>7.2f} | {rss:>8.1f} | {t_target:>11} | {m_target:>10} |")


if __name__ == "__main__":
    main()
