"""`rulesgen mutate`: operators make the intended mutants, equivalence is only claimed
when provable, and the generated tests are scored against the mutants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import require, run_cli
from rulesgen.equivalence import Closure, for_mutant_equivalent, guard_drop_equivalent, matcher_drop_equivalent
from rulesgen.mutate import (
    AlertScore,
    Mutant,
    MutationReport,
    alert_mutants,
    caught_elsewhere,
    expr_mutants,
    format_mutations,
    regex_alternatives,
    threshold_step,
    verdict_signature,
)
from rulesgen.verify.closure import ClosureGroup

CASES = [
    ("x > 5", "comparison-flipped", "x < 5"),
    ("x > 5", "comparison-boundary", "x >= 5"),
    ("x < 0.85", "comparison-boundary", "x <= 0.85"),
    ("x > 5", "threshold-toward-firing", "x > 4"),
    ("x > 5", "threshold-toward-silence", "x > 6"),
    ("x < 0.85", "threshold-toward-firing", "x < 0.86"),
    ("x > (14.4 * (1 - 0.99))", "threshold-toward-firing", "x > 0.134"),
    ("x > 0.01", "threshold-toward-silence", "x > 0.011"),
    ("sum by (a) (rate(m[5m]))", "range-halved", "sum by (a) (rate(m[2m30s]))"),
    ("sum by (a) (rate(m[5m]))", "range-doubled", "sum by (a) (rate(m[10m]))"),
    ("x / (x offset 1w > 0)", "offset-halved", "x / (x offset 3d12h > 0)"),
    ("x / (x offset 1w > 0)", "offset-doubled", "x / (x offset 2w > 0)"),
    ("sum by (a) (m)", "sum-to-max", "max by (a) (m)"),
    ("sum by (a) (m)", "sum-to-avg", "avg by (a) (m)"),
    ("sum by (a, b) (m)", "by-label-dropped", "sum by (b) (m)"),
    ('m{a="1",b="2"} > 0', "matcher-dropped", 'm{b="2"} > 0'),
    ('m{a=~"x|y\\\\.z"}', "regex-alternative-removed", 'm{a=~"y\\\\.z"}'),
    ("sum(a) / (sum(b) > 0)", "denominator-guard-dropped", "sum(a) / (sum(b))"),
    ("a > 1 and b > 2", "and-dropped-keep-left", "a > 1"),
    ("a > 1 and b > 2", "and-dropped-keep-right", "b > 2"),
    ("a > 1 and b > 2 or c", "and-dropped-keep-right", "b > 2 or c"),
    ("a > 1 and on (x) b > 2", "and-to-or", "a > 1 or on (x) b > 2"),
    ("rate(m[5m])", "rate-to-irate", "irate(m[5m])"),
    ("increase(m[5m])", "increase-to-delta", "delta(m[5m])"),
]


@pytest.mark.parametrize(("expr", "operator", "expected"), CASES)
def test_operator_makes_the_expected_mutant(expr: str, operator: str, expected: str) -> None:
    made = [m.expr for m in expr_mutants(expr) if m.operator == operator]
    assert expected in made, made


def test_guards_are_not_thresholds_and_every_mutant_parses() -> None:
    import promql_parser

    expr = "sum(a) / (sum(b) > 0) > 0.1"
    mutants = expr_mutants(expr)
    for m in mutants:
        promql_parser.parse(m.expr)
    nudged = [m.expr for m in mutants if m.operator.startswith(("threshold", "comparison"))]
    assert nudged and all("(sum(b) > 0)" in e for e in nudged)  # only the `> 0.1` threshold moves


def test_units_set_the_step() -> None:
    assert threshold_step(20, "count") == 1
    assert threshold_step(0.2, "ratio") == 0.01
    assert threshold_step(0.05, "ratio") == pytest.approx(0.005)
    assert threshold_step(1.2, "factor") == pytest.approx(0.012)
    assert threshold_step(1073741824, None) == pytest.approx(10737418.24)  # not a count: 1%
    assert [m.expr for m in expr_mutants("x > 0.1", [(0.1, "seconds")]) if "threshold" in m.operator] == [
        "x > 0.099",
        "x > 0.101",
    ]


def test_regex_alternatives_respect_groups_and_escapes() -> None:
    assert regex_alternatives("a|b(c|d)|e\\|f|[|]") == ["a", "b(c|d)", "e\\|f", "[|]"]


def test_sum_swap_is_equivalent_only_when_each_group_is_one_series() -> None:
    record = {"record": "a_status:m:rate5m", "expr": "sum by (a, status) (rate(m[5m]))"}
    fixed = {"alert": "A", "expr": 'sum by (a) (a_status:m:rate5m{status="failed"}) > 1', "for": "1m"}
    loose = {"alert": "A", "expr": 'sum by (a) (a_status:m:rate5m{status=~"failed|ok"}) > 1', "for": "1m"}
    for rule, expected in ((fixed, "equivalent"), (loose, "pending")):
        closure = [ClosureGroup("g", Path("g.rules.yml"), (record, rule))]
        statuses = {
            m.status for m, _ in alert_mutants("prod", "A", closure) if m.rule == "alert A" and "sum-to" in m.operator
        }
        assert statuses == {expected}
    # the recording rule's own `sum` reads a raw metric: never provably equivalent
    closure = [ClosureGroup("g", Path("g.rules.yml"), (record, fixed))]
    assert all(m.status == "pending" for m, _ in alert_mutants("prod", "A", closure) if m.rule.startswith("record"))


@pytest.mark.parametrize(
    ("before", "after", "interval", "equivalent"),
    [
        ("1m", "30s", "1m", True),  # pending at t, fires at t+1m either way
        ("30s", "1m", "1m", True),
        ("2m", "1m", "1m", False),  # fires one evaluation sooner
        ("2m", "4m", "1m", False),
        ("1m", "30s", None, False),  # the interval is unknown: nothing is provable
        ("20m", "10m", "1h", False),  # at or over the grace period, a restart restores only one of them
    ],
)
def test_for_change_is_equivalent_only_within_one_evaluation(
    before: str, after: str, interval: str | None, equivalent: bool
) -> None:
    assert (for_mutant_equivalent(before, after, interval) is not None) == equivalent


RATE = {"record": "R", "expr": "sum by (network, status) (rate(m_total[5m]))"}


@pytest.mark.parametrize(
    ("rule", "readers", "equivalent"),
    [
        # The numerator sums a subset of the denominator's series: 0/0 is NaN, never compared true.
        (
            {"record": "Q", "expr": 'sum by (network) (R{status="f"}) / (sum by (network) (R{status=~"f|s"}) > 0)'},
            ["Q > 0.1"],
            True,
        ),
        ({"record": "Q", "expr": "a:rate / ((a:rate + b:rate) > 0)"}, ["Q < 0.85"], False),  # a:rate may be negative
        ({"record": "Q", "expr": "R / ((R + R) > 0)"}, ["Q < 0.85"], True),
        # Two gauges: used > 0 over a limit of 0 is +Inf, which pages.
        ({"record": "Q", "expr": "sum(used_bytes) / (sum(max_bytes) > 0)"}, ["Q > 0.6"], False),
        # A reader that does arithmetic on the quotient could see NaN where the guard left nothing.
        ({"record": "Q", "expr": 'sum(R{status="f"}) / (sum(R{status=~"f|s"}) > 0)'}, ["Q * 2 > 0.1"], False),
    ],
)
def test_guard_drop_is_equivalent_only_when_zero_over_zero(
    rule: dict[str, str], readers: list[str], equivalent: bool
) -> None:
    closure = Closure([RATE, rule, *({"alert": "A", "expr": r} for r in readers)])
    assert (guard_drop_equivalent(rule["expr"], rule, closure) is not None) == equivalent


def test_matcher_drop_is_equivalent_only_when_its_series_never_reach_the_alert() -> None:
    record = {
        "record": "R",
        "expr": 'sum by (network, status) ((m_total{network=~"a|b"} - m_total{network=~"a|b"} offset 5m >= 0)'
        ' or (m_total{network=~"a|b"} and on() group(m_total offset 5m)))',
    }
    alert = {"alert": "A", "expr": 'sum by (network) (R{network=~"a|b",status="f"}) > 5'}
    closure = Closure([record, alert])
    dropped_in_or = record["expr"].replace('(m_total{network=~"a|b"} and', "(m_total{} and")
    assert matcher_drop_equivalent(record["expr"], dropped_in_or, record, closure)  # every reader filters network
    loose = Closure([record, {"alert": "A", "expr": 'sum by (network) (R{status="f"}) > 5'}])
    assert matcher_drop_equivalent(record["expr"], dropped_in_or, record, loose) is None
    # Across `/`, the other side selects the same networks: extra series find no partner ...
    ratio = {
        "record": "Q",
        "expr": 'sum by (network) (R{network=~"a|b",status="f"}) / sum by (network) (R{network=~"a|b"})',
    }
    num_dropped = ratio["expr"].replace('(R{network=~"a|b",status="f"})', '(R{status="f"})')
    assert matcher_drop_equivalent(ratio["expr"], num_dropped, ratio, Closure([ratio]))
    # ... but a status the other side also counts reaches the quotient.
    status_dropped = ratio["expr"].replace('(R{network=~"a|b",status="f"})', '(R{network=~"a|b"})')
    assert matcher_drop_equivalent(ratio["expr"], status_dropped, ratio, Closure([ratio])) is None


def test_a_narrowed_regex_is_equivalent_only_when_no_reader_selects_what_it_removed() -> None:
    record = {"record": "R", "expr": 'sum by (status) (m_total{status=~"f|s"})'}
    narrowed = 'sum by (status) (m_total{status=~"f"})'
    only_failed = Closure([record, {"alert": "A", "expr": 'R{status="f"} > 5'}])
    assert matcher_drop_equivalent(record["expr"], narrowed, record, only_failed)
    both = Closure([record, {"alert": "A", "expr": "sum(R) > 5"}])
    assert matcher_drop_equivalent(record["expr"], narrowed, record, both) is None


def test_a_matcher_proof_follows_records_through_histogram_quantile() -> None:
    buckets = {"record": "B", "expr": 'sum by (le, route) (rate(h_bucket{route=~"/a|/b"}[5m]))'}
    p95 = {"record": "P", "expr": "histogram_quantile(0.95, B)"}
    alert = {"alert": "A", "expr": 'P{route=~"/a|/b"} > 0.1'}
    closure = Closure([buckets, p95, alert])
    # P only carries the routes B selects: the alert's matcher on them filters nothing.
    assert matcher_drop_equivalent(alert["expr"], "P{} > 0.1", alert, closure)
    # Dropping B's own matcher lets every route into P, and the alert's filter keeps them
    # out: the proof follows the route label through P to the alert's matcher ...
    wide = "sum by (le, route) (rate(h_bucket{}[5m]))"
    assert matcher_drop_equivalent(buckets["expr"], wide, buckets, closure)
    # ... and never takes the mutated record's original definition for a fact.
    loose = Closure([buckets, p95, {"alert": "A", "expr": "P > 0.1"}])
    assert matcher_drop_equivalent(buckets["expr"], wide, buckets, loose) is None


def test_mutate_scores_one_alert_and_names_its_survivors(generated: Path) -> None:
    """BillingPendingBacklog: healthy sits on the threshold and breaches are spread over
    tokens, so nudged thresholds, `>=` and `sum` turned into `max` are all killed and
    the score is 100%."""
    require("promtool")
    args = ["mutate", "--env", "prod", "--alert", "BillingPendingBacklog"]
    result = run_cli(*args, "--output", str(generated), "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"ok", "envs", "alerts"}
    (alert,) = report["alerts"]
    assert alert["alert"] == "BillingPendingBacklog" and alert["baseline_ok"]
    assert alert["mutants"] == len(alert["details"]) > 5
    assert (
        alert["killed"] + alert["survived"] + alert["equivalent"] + alert["invalid"] + alert["errors"]
        == alert["mutants"]
    )
    assert alert["score"] == pytest.approx(
        alert["killed"] / (alert["mutants"] - alert["equivalent"] - alert["invalid"])
    )
    assert report["envs"]["prod"]["score"] == pytest.approx(alert["score"]) == 1.0
    status = {(d["operator"], d["after"]): d["status"] for d in alert["details"]}
    gauge = "(max without (instance) (last_over_time(billing_transactions_network_pending_total[2m])))"
    expr = f"sum by (network) {gauge}"
    assert status[("threshold-toward-silence", f"{expr} > 21")] == "killed"
    assert status[("threshold-toward-firing", f"{expr} > 19")] == "killed"
    assert status[("comparison-boundary", f"{expr} >= 20")] == "killed"
    assert status[("sum-to-max", f"max by (network) {gauge} > 20")] == "killed"
    assert status[("max-without-to-sum", expr.replace("max without", "sum without") + " > 20")] == "killed"
    keys = {"operator", "rule", "field", "before", "after", "status", "explanation", "killed_by"}
    assert all(set(d) == keys for d in alert["details"])
    # A kill names the scenario that failed: the scenarios run cheapest first and stop there.
    killed = [d for d in alert["details"] if d["status"] == "killed"]
    assert killed and all(d["killed_by"] and all(d["killed_by"]) for d in killed)
    assert run_cli(*args, "--output", str(generated), "--min-score", "100").returncode == 0


def test_report_names_each_survivor_with_its_change() -> None:
    mutant = Mutant("prod", "A", "threshold-toward-firing", "alert A", "expr", "x > 5", "x > 4", "no healthy near it")
    mutant.status = "survived"
    text = format_mutations(MutationReport([AlertScore("prod", "A", [mutant])]))
    assert "threshold-toward-firing in alert A (expr): no healthy near it" in text
    assert "x > 5" in text and "-> x > 4" in text
    assert "prod: mutation score 0.0%" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "nope"], "unknown environment"),
        (["--alert", "Nope"], "unknown alert 'Nope'"),
        (["--min-score", "150"], "a score is 0..1"),
        (["--jobs", "0"], "must be 1 or more"),
    ],
)
def test_mutate_bad_input_exits_2(generated: Path, args: list[str], message: str) -> None:
    result = run_cli("mutate", "--output", str(generated), *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_environments_share_verdicts_only_when_their_alert_differs_in_static_labels_alone() -> None:
    def closure(threshold: str, env: str) -> list[ClosureGroup]:
        rule = {
            "alert": "A",
            "expr": f"x > {threshold}",
            "labels": {"env": env, "severity": "critical"},
            "annotations": {"runbook_url": f"https://r/{env}", "description": "{{ $value }} over " + threshold},
        }
        return [ClosureGroup("g", Path("g.rules.yml"), (rule,), "1m")]

    def doc(env: str, value: str) -> dict[str, Any]:
        expected = {"exp_labels": {"env": env, "severity": "critical"}, "exp_annotations": {"description": value}}
        case = {"eval_time": "5m", "alertname": "A", "exp_alerts": [expected]}
        return {"evaluation_interval": "1m", "tests": [{"name": "A/breach", "alert_rule_test": [case]}]}

    prod = verdict_signature(closure("5", "prod"), [doc("prod", "6 over 5")])
    assert prod == verdict_signature(closure("5", "staging"), [doc("staging", "6 over 5")])
    # A threshold of its own, or an expected value rendered otherwise, is another alert.
    assert prod != verdict_signature(closure("9", "staging"), [doc("staging", "6 over 5")])
    assert prod != verdict_signature(closure("5", "staging"), [doc("staging", "7 over 5")])


def test_skip_alert_leaves_an_alert_out_and_names_unknown_ones(generated: Path) -> None:
    require("promtool")
    where = ["--output", str(generated), "--env", "prod", "--format", "json"]
    alerts = ["--alert", "BillingPendingBacklog", "--alert", "RedisMemoryHigh"]
    result = run_cli("mutate", *where, *alerts, "--skip-alert", "RedisMemoryHigh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [a["alert"] for a in json.loads(result.stdout)["alerts"]] == ["BillingPendingBacklog"]
    unknown = run_cli("mutate", *where, "--skip-alert", "NoSuchAlert")
    assert unknown.returncode == 2 and "NoSuchAlert" in unknown.stdout + unknown.stderr
    nothing = run_cli("mutate", *where, "--alert", "RedisMemoryHigh", "--skip-alert", "RedisMemoryHigh")
    assert nothing.returncode == 2


def test_proofs_follow_hourly_tiles_through_sum_over_time() -> None:
    """A burn-rate ticket window sums an exact 1h record at whole hours: the labels and
    the sign of the record pass through `sum_over_time(R[...:1h])` unchanged."""
    hourly = {"record": "H", "expr": 'sum by (network, status) (increase(m_total{network=~"a|b"}[1h]))'}
    tiled = {"record": "T", "expr": "sum_over_time(H[23h59m59s999ms:1h])"}
    ratio = {
        "record": "Q",
        "expr": 'sum(T{network=~"a|b",status="f"}) / (sum(T{network=~"a|b",status=~"f|s"}) > 0)',
    }
    alert = {"alert": "A", "expr": "Q > 0.03"}
    closure = Closure([hourly, tiled, ratio, alert])
    # T only carries H's networks: the ratio's matcher on them filters nothing ...
    assert matcher_drop_equivalent(ratio["expr"], ratio["expr"].replace('network=~"a|b",', "", 1), ratio, closure)
    # ... and every reader of H, through T, selects `a|b` only: H's own matcher may go.
    wide = "sum by (network, status) (increase(m_total{}[1h]))"
    assert matcher_drop_equivalent(hourly["expr"], wide, hourly, closure)
    # Sums of non-negative counts: 0/0 where the guard dropped the sample.
    assert guard_drop_equivalent(ratio["expr"], ratio, closure)
    # Not through a function that can change the sign or the labels.
    signed = {"record": "T", "expr": "sum_over_time(deriv(H[1h])[1d:1h])"}
    assert guard_drop_equivalent(ratio["expr"], ratio, Closure([hourly, signed, ratio, alert])) is None
    loose = {"alert": "B", "expr": "sum(T) > 5"}
    assert matcher_drop_equivalent(hourly["expr"], wide, hourly, Closure([hourly, tiled, ratio, alert, loose])) is None


def test_a_shared_record_mutant_killed_by_another_alert_is_killed() -> None:
    def mutant(alert: str, rule: str, after: str, status: str, env: str = "prod") -> Mutant:
        return Mutant(env, alert, "range-doubled", rule, "expr", "before", after, "why", status)

    shared = "record level:m:increase5m"
    a = AlertScore("prod", "A", [mutant("A", shared, "x[10m]", "survived"), mutant("A", shared, "x[1m]", "survived")])
    b = AlertScore("prod", "B", [mutant("B", shared, "x[10m]", "killed"), mutant("B", "alert B", "x[1m]", "killed")])
    staging = AlertScore("staging", "C", [mutant("C", shared, "x[10m]", "survived", "staging")])
    caught_elsewhere([a, b, staging])
    assert [m.status for m in a.mutants] == ["killed", "survived"]  # another text, or an alert rule: no
    assert a.mutants[0].killed_by == ("B's tests",)
    assert staging.mutants[0].status == "survived"  # another environment deploys another rule


def test_an_exact_difference_is_non_negative_only_when_resets_reads_back_to_its_offset() -> None:
    """`x offset 5m` may be a sample up to a lookback (5m) before the window: a restart
    between it and `x[5m]`'s first sample hides from `resets(x[5m])`, and the difference
    of two lives is negative (promtool reads -81), so only a guard reading 10m proves it."""

    def exact(reach: str) -> bool:
        expr = f"(x_total - x_total offset 5m) unless resets(x_total[{reach}]) > 0"
        closure = Closure([{"record": "r", "expr": expr}])
        return closure.non_negative(closure.records["r"])

    assert exact("10m")
    assert not exact("5m") and not exact("9m")
