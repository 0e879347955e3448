"""Random valid specs compile into rules that promql-parser and promtool accept."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import promql_parser
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import require
from rulesgen.pipeline import build_text

LABELS = ["a", "b"]
durations = st.sampled_from(["30s", "1m", "5m", "10m", "1h", "90s"])
label_values = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=8)
matchers = st.dictionaries(
    st.sampled_from(LABELS),
    st.one_of(label_values, st.lists(label_values, min_size=1, max_size=3)),
    max_size=2,
)
by = st.lists(st.sampled_from(LABELS), unique=True, max_size=2)
ratio = st.floats(min_value=0, max_value=1, allow_nan=False)
common = {"severity": "critical", "team": "t", "summary": "s"}


def selector(metric: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"metric": st.just(metric), "matchers": matchers})


alerts = st.one_of(
    st.fixed_dictionaries(
        {
            "kind": st.just("counter_increase"),
            "metric": st.just("c_total"),
            "matchers": matchers,
            "by": by,
            "window": durations,
            "threshold": st.floats(0, 1e6),
            "for": durations,
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("ratio"),
            "numerator": selector("c_total"),
            "denominator": st.lists(selector("c_total"), min_size=1, max_size=2),
            "by": by,
            "window": durations,
            "direction": st.sampled_from(["above", "below"]),
            "threshold": ratio,
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("gauge_threshold"),
            "metric": st.just("g"),
            "matchers": matchers,
            "by": by,
            "threshold": st.floats(-1e9, 1e9),
            "direction": st.sampled_from(["above", "below"]),
            "aggregation": st.sampled_from(["sum", "max", "min", "avg"]),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("gauge_ratio"),
            "numerator": selector("g"),
            "denominator": selector("lim"),
            "by": by,
            "threshold": ratio,
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("latency_regression"),
            "metric": st.just("h"),
            "matchers": matchers,
            "by": by,
            "threshold": st.floats(0.01, 10),
            "floor": st.sampled_from(["50ms", "1s"]),
            "quantile": st.sampled_from([0.5, 0.9, 0.95, 0.999]),
            "offset": st.sampled_from(["1d", "1w"]),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("burn_rate"),
            "errors": selector("c_total"),
            "total": selector("c_total"),
            "by": by,
            "objective": st.sampled_from([0.9, 0.99, 0.995, 0.999]),
            "ticket_severity": st.just("warning"),
            "tiers": st.just([{"tier": "page", "factor": 5, "long": "1h", "short": "5m"}]),
        }
    ),
)


def spec_of(raw_alerts: list[dict[str, Any]]) -> str:
    metric = {"labels": LABELS}
    return yaml.safe_dump(
        {
            "version": 1,
            "settings": {"runbook_base_url": "https://r.example", "grafana_base_url": "https://g.example"},
            "environments": {"prod": {}},
            "teams": {"t": {}},
            "severities": {"critical": {}, "warning": {}},
            "metrics": {
                "c_total": {"type": "counter", **metric},
                "g": {"type": "gauge", **metric},
                "lim": {"type": "gauge", **metric},
                "h": {"type": "histogram", **metric},
            },
            "alerts": [{**common, **a, "name": f"Alert{i}"} for i, a in enumerate(raw_alerts)],
        },
        allow_unicode=True,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(alerts, min_size=1, max_size=4))
def test_random_specs_compile_to_rules_promtool_accepts(tmp_path: Path, raw: list[dict[str, Any]]) -> None:
    files = build_text(spec_of(raw), "random.yaml")
    paths = []
    for rel, content in files.items():
        doc = yaml.safe_load(content)
        for group in doc["groups"]:
            for rule in group["rules"]:
                promql_parser.parse(rule["expr"])  # raises on a syntax error
        path = tmp_path / rel.replace("/", "_")
        path.write_bytes(content)
        paths.append(str(path))
    result = subprocess.run(
        [require("promtool"), "check", "rules", *paths], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
