"""Random valid specs compile into rules that promql-parser and promtool accept, and
their generated unit tests pass under promtool (the scenario model agrees with Prometheus).

The default hypothesis profile is derandomized, so CI runs the same examples every
time; explore new ones with `HYPOTHESIS_PROFILE=explore pytest tests/test_property.py`."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import promql_parser
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import require
from rulesgen.pipeline import build_text
from rulesgen.verify.report import format_report
from rulesgen.verify.suite import run_tests

LABELS = ["a", "b"]
durations = st.sampled_from(["30s", "1m", "5m", "10m", "1h", "90s"])
label_values = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=8)
scope_matchers = st.one_of(
    st.just({}),
    st.builds(lambda v: {"b": v}, label_values),
    st.builds(lambda v: {"b": v}, st.lists(label_values, min_size=1, max_size=3, unique=True)),
)
by = st.lists(st.sampled_from(LABELS), unique=True, max_size=2)
common = {"severity": "critical", "team": "t", "summary": "s"}


def ratio_parts(scope: dict[str, Any], metric: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A numerator (label a = "err") and a denominator that also counts other values of a."""
    return (
        {"metric": metric, "matchers": {**scope, "a": "err"}},
        {"metric": metric, "matchers": {**scope, "a": ["err", "ok"]}},
    )


@st.composite
def alerts(draw: st.DrawFn) -> dict[str, Any]:
    scope = draw(scope_matchers)
    kind = draw(
        st.sampled_from(
            ["counter_increase", "ratio", "gauge_threshold", "gauge_ratio", "latency_regression", "burn_rate"]
        )
    )
    grouping = [label for label in draw(by) if kind not in ("ratio", "burn_rate") or label != "a"]
    if kind == "counter_increase":
        return {
            "kind": kind,
            "metric": "c_total",
            "matchers": scope,
            "by": grouping,
            "window": draw(durations),
            "threshold": draw(st.integers(0, 10_000)),
            "for": draw(durations),
        }
    if kind == "ratio":
        num, den = ratio_parts(scope, "c_total")
        direction = draw(st.sampled_from(["above", "below"]))
        low, high = (0.0, 0.99) if direction == "above" else (0.01, 1.0)
        return {
            "kind": kind,
            "numerator": num,
            "denominator": [den],
            "by": grouping,
            "window": draw(durations),
            "direction": direction,
            "threshold": draw(st.floats(low, high)),
            "for": draw(durations),
        }
    if kind == "gauge_threshold":
        return {
            "kind": kind,
            "metric": "g",
            "matchers": scope,
            "by": grouping,
            "threshold": draw(st.floats(-1e6, 1e6)),
            "direction": draw(st.sampled_from(["above", "below"])),
            "aggregation": draw(st.sampled_from(["sum", "max", "min", "avg"])),
        }
    if kind == "gauge_ratio":
        return {
            "kind": kind,
            "numerator": {"metric": "g", "matchers": scope},
            "denominator": {"metric": "lim", "matchers": scope},
            "by": grouping,
            "threshold": draw(st.floats(0, 0.99)),
            "for": draw(durations),
        }
    if kind == "latency_regression":
        return {
            "kind": kind,
            "metric": "h",
            "matchers": scope,
            "by": grouping,
            "threshold": draw(st.floats(0.01, 10)),
            "floor": draw(st.sampled_from(["50ms", "1s"])),
            "quantile": draw(st.sampled_from([0.5, 0.9, 0.95, 0.999])),
            "offset": draw(st.sampled_from(["1d", "1w"])),
        }
    errors, total = ratio_parts(scope, "c_total")
    return {"kind": kind, "errors": errors, "total": total, "by": grouping,
            "objective": draw(st.sampled_from([0.9, 0.99, 0.995, 0.999])), "ticket_severity": "warning",
            "tiers": [{"tier": "page", "factor": 5, "long": "1h", "short": "5m", "for": "10m"},
                      {"tier": "ticket", "factor": 1, "long": "6h", "short": "30m"}]}  # fmt: skip


class QuotedDumper(yaml.SafeDumper):
    """Double-quotes every string: PyYAML leaves `n` or `09` plain, which the spec's
    YAML 1.2 loader rightly rejects as read differently by YAML 1.1."""


QuotedDumper.add_representer(
    str, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
)


def spec_of(raw_alerts: list[dict[str, Any]]) -> str:
    metric = {"labels": LABELS}
    return yaml.dump(
        Dumper=QuotedDumper,
        data={
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


def write(tmp_path: Path, files: Mapping[str, bytes]) -> None:
    for rel, content in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(alerts(), min_size=1, max_size=4))
def test_random_specs_compile_to_rules_promtool_accepts(tmp_path: Path, raw: list[dict[str, Any]]) -> None:
    files = build_text(spec_of(raw), "random.yaml", tests=False)
    rule_files = {rel: content for rel, content in files.items() if "/prometheus/" in rel}
    for content in rule_files.values():
        for group in yaml.safe_load(content)["groups"]:
            for rule in group["rules"]:
                promql_parser.parse(rule["expr"])  # raises on a syntax error
    write(tmp_path, files)
    paths = sorted(str(tmp_path / rel) for rel in rule_files)
    result = subprocess.run(
        [require("promtool"), "check", "rules", *paths], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = str(tmp_path / "prod" / "alertmanager" / "alertmanager.yml")
    result = subprocess.run([require("amtool"), "check-config", config], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(alerts(), min_size=1, max_size=1))
def test_random_specs_generated_tests_pass_in_promtool(tmp_path: Path, raw: list[dict[str, Any]]) -> None:
    """The scenario model's expectations (values, annotations, timing) match Prometheus."""
    files = build_text(spec_of(raw), "random.yaml")
    # hypothesis runs every example in the same tmp_path: a tree of its own for each
    out = Path(tempfile.mkdtemp(dir=tmp_path))
    write(out, files)
    require("promtool")
    report = run_tests(out, ["prod"])  # the tests name no rule files: the runner adds the deployed ones
    assert report.results
    assert all(r.ok for r in report.results), format_report(report)[-6000:]
