"""The error budget a burn-rate tier had used when it fired, on a history written so
that the answer is worked out by hand, served by the real embedded Prometheus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import require, run_cli
from rulesgen.ir import ErrorBudget
from rulesgen.promql import Duration

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
MINUTES = 200
BURN_FROM = 120  # minute at which half the requests start failing

SPEC_TEXT = """version: 1
settings:
  runbook_base_url: "https://runbooks.example.com"
environments:
  prod: {}
teams:
  billing:
    receivers:
      pager:
        pagerduty: {routing_key_file: "/etc/alertmanager/pd-key"}
      chat:
        slack: {api_url_file: "/etc/alertmanager/slack-url", channel: "#billing"}
severities:
  critical: {route_to: "pager"}
  warning: {route_to: "chat"}
metrics:
  reqs_total:
    type: "counter"
    labels: ["status"]
alerts:
  - name: "Burn"
    kind: "burn_rate"
    errors: {metric: "reqs_total", matchers: {status: "failed"}}
    total: {metric: "reqs_total", matchers: {status: ["failed", "succeeded"]}}
    objective: 0.99
    tiers:
      - {tier: "page", factor: 14.4, long: "1h", short: "5m", for: "2m"}
    severity: "critical"
    ticket_severity: "warning"
    team: "billing"
    summary: "Burning the budget"
  - name: "Plain"
    kind: "counter_increase"
    metric: "reqs_total"
    matchers: {status: "failed"}
    window: "5m"
    threshold: 100
    for: "1m"
    severity: "warning"
    team: "billing"
    summary: "Failures"
"""


def failed(minute: int) -> int:
    """100 requests a minute throughout; from BURN_FROM on, half of them fail."""
    return 50 * max(0, minute - BURN_FROM)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("budget")
    lines = ["# TYPE reqs counter"]
    for status, count in (("failed", failed), ("succeeded", lambda m: 100 * m - failed(m))):
        lines += [f'reqs_total{{status="{status}"}} {count(m)} {T0 + 60 * m}' for m in range(MINUTES + 1)]
    om, spec = root / "history.om", root / "spec.yaml"
    om.write_text("\n".join([*lines, "# EOF", ""]))
    spec.write_text(SPEC_TEXT)
    return om, spec


def backtest(files: tuple[Path, Path], *args: str) -> Any:
    require("promtool")
    require("prometheus")
    om, spec = files
    done = run_cli("backtest", "--spec", str(spec), "--source", str(om), *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_budget_used_when_a_tier_fires_is_worked_out_by_hand(files: tuple[Path, Path]) -> None:
    """m minutes into the burn, the 1h window holds 50m failures of 6,000 requests. Over
    14.4 x 1% = 0.144 from m = 18 (900/6000 = 0.15); `for: 2m` fires at m = 20, when the
    window holds 1,000 failures. A 30-day budget at that traffic allows 1% of 6,000 x 720
    hours = 43,200 failures: 1,000 / 43,200 = 2.31%."""
    prod = json.loads(backtest(files, "--format", "json"))["environments"]["prod"]
    [episode] = prod["alerts"]["Burn"]["episodes"]
    assert episode["firing"] == "2026-01-01T02:20:00Z"
    assert episode["pending"] == "2026-01-01T02:18:00Z"
    assert episode["budget_consumed"] == pytest.approx(1000 / 43200, abs=1e-9)
    # An alert of another kind has no budget to report.
    assert all("budget_consumed" not in e for e in prod["alerts"]["Plain"]["episodes"])
    assert prod["alerts"]["Plain"]["episodes"]


def test_a_higher_factor_fires_later_on_more_of_the_budget(files: tuple[Path, Path]) -> None:
    """At 30 x 1% = 0.3: over it from m = 37 (1850/6000), fires at m = 39: 1,950 / 43,200."""
    tiers = '[{tier: "page", factor: 30, long: "1h", short: "5m", for: "2m"}]'
    out = backtest(files, "--set", f"Burn.tiers={tiers}", "--format", "json")
    [episode] = json.loads(out)["environments"]["prod"]["alerts"]["Burn"]["episodes"]
    assert episode["firing"] == "2026-01-01T02:39:00Z"
    assert episode["budget_consumed"] == pytest.approx(1950 / 43200, abs=1e-9)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_every_report_names_the_firing_and_its_share(files: tuple[Path, Path], fmt: str) -> None:
    out = backtest(files, "--format", fmt)
    assert "error budget used at detection (burn rate x long window / SLO period):" in out
    line = "Burn long_window=1h short_window=5m slo_tier=page at 2026-01-01T02:20:00Z: 2.31%"
    if fmt == "html":
        assert f"<li>{line}</li>" in out
    else:
        bullet = "  " if fmt == "text" else "- "
        assert f"\n{bullet}{line}\n" in out + "\n"


def test_the_share_is_burn_rate_times_window_over_period() -> None:
    budget = ErrorBudget(0.99, Duration.parse("30d"), Duration.parse("1h"))
    assert budget.consumed(0.144) == pytest.approx(0.02)  # the workbook's 2% for 14.4x over 1h
    six = ErrorBudget(0.999, Duration.parse("30d"), Duration.parse("6h"))
    assert six.consumed(0.006) == pytest.approx(0.05)  # 6x over 6h: 5%


def test_a_part_of_a_field_is_set_on_its_own(files: tuple[Path, Path]) -> None:
    """`Burn.tiers[0].factor=30` is the whole `tiers` with that factor moved: the same
    firing as writing every tier out (the test above)."""
    out = backtest(files, "--set", "Burn.tiers[0].factor=30", "--format", "json")
    [episode] = json.loads(out)["environments"]["prod"]["alerts"]["Burn"]["episodes"]
    assert episode["firing"] == "2026-01-01T02:39:00Z"
    assert episode["budget_consumed"] == pytest.approx(1950 / 43200, abs=1e-9)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Burn.tiers[3].factor=30", "Burn has no tiers[3].factor"),
        ("Burn.tiers[0].fctor=30", "unknown key 'fctor'; did you mean 'factor'?"),
    ],
)
def test_a_part_that_is_not_there_is_bad_input(files: tuple[Path, Path], value: str, message: str) -> None:
    om, spec = files
    done = run_cli("backtest", "--spec", str(spec), "--source", str(om), "--set", value)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
