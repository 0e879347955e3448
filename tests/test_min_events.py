"""`min_events` on counter ratios and burn rates: a ratio pages only when its window
holds enough events. What the option changes in the rules, and in what fires (promtool
on the generated rules), and that the generated tests of an alert that sets it pass."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from conftest import minimal_text, require, run_cli
from rulesgen.pipeline import build_text

RATIO = 'summary: "ratio"'


def spec(min_events: int | None) -> str:
    extra = f"\n    min_events: {min_events}" if min_events is not None else ""
    return minimal_text().replace(RATIO, RATIO + extra)


def rule(text: str, name: str) -> str:
    doc = yaml.safe_load(build_text(text, tests=False)["prod/prometheus/billing.rules.yml"])
    return str(next(r["expr"] for g in doc["groups"] for r in g["rules"] if r.get("alert") == name))


def test_min_events_adds_a_floor_on_the_denominator_count() -> None:
    assert " and on() " not in rule(spec(None), "TxRatio")
    assert rule(spec(10), "TxRatio") == "global:tx_ratio:ratio_rate5m > 0.1 and on() (global:tx:increase5m >= 10)"


def fires(tmp_path: Path, min_events: int | None, per_minute: int) -> bool:
    """Whether TxRatio fires at 20m when every minute `per_minute` transactions run and
    one in five fails (a 20% failure ratio against a 10% threshold)."""
    rules = tmp_path / "billing.rules.yml"
    rules.write_bytes(build_text(spec(min_events), tests=False)["prod/prometheus/billing.rules.yml"])
    target = 'instance="a:1",job="app",network="polygon"'
    failed = per_minute / 5
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'tx_total{{{target},status="failed"}}', "values": f"0+{failed}x30"},
                    {"series": f'tx_total{{{target},status="ok"}}', "values": f"0+{per_minute - failed}x30"},
                    {"series": 'up{instance="a:1",job="app"}', "values": "1+0x30"},
                ],
                "alert_rule_test": [{"eval_time": "20m", "alertname": "TxRatio", "exp_alerts": []}],
            }
        ],
    }
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test))
    proc = subprocess.run(
        [require("promtool"), "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert "SUCCESS" in proc.stdout or "alertname: TxRatio" in proc.stderr, proc.stdout + proc.stderr
    return proc.returncode != 0


def test_low_traffic_pages_only_without_min_events(tmp_path: Path) -> None:
    # One transaction a minute: 5 in the window, one failing.
    assert fires(tmp_path, None, 1)
    assert not fires(tmp_path, 10, 1)
    # Ten a minute: 50 in the window, the floor is met and the ratio pages.
    assert fires(tmp_path, 10, 10)


def test_generated_tests_pass_with_min_events(tmp_path: Path) -> None:
    require("promtool")
    path = tmp_path / "thresholds.yaml"
    path.write_text(spec(10))
    out = tmp_path / "output"
    assert run_cli("generate", "--spec", str(path), "--output", str(out)).returncode == 0
    result = run_cli("test", "--spec", str(path), "--output", str(out))
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_warns_on_a_paging_ratio_one_event_can_trip(tmp_path: Path) -> None:
    pager = 'billing:\n    receivers: {pager: {webhook: {url: "https://pager.example.com/hook"}}}'
    text = spec(None).replace("billing: {}", pager).replace("  critical: {}", '  critical: {route_to: "pager"}')
    assert 'critical: {route_to: "pager"}' in text and "receivers" in text
    path = tmp_path / "thresholds.yaml"
    for min_events, warned in ((None, True), (9, True), (10, False)):
        path.write_text(text if min_events is None else text.replace(RATIO, f"{RATIO}\n    min_events: {min_events}"))
        result = run_cli("lint", "--spec", str(path), "--format", "json")
        found = [d for d in yaml.safe_load(result.stdout)["diagnostics"] if d["code"] == "RG210"]
        assert bool(found) == warned, (min_events, result.stdout)
    path.write_text(text)
    found = yaml.safe_load(run_cli("lint", "--spec", str(path), "--format", "json").stdout)["diagnostics"]
    assert any("set min_events to 10 or more" in d["message"] for d in found)
