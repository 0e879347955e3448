"""`rulesgen test` judges the deployed rules: a hand edit fails its tests, a stale
output/ is refused, and the test artefacts can never be deployed as rules."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Mapping
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml

import rulesgen.lower.routing
from conftest import SPEC, copied, require, run_cli
from rulesgen import children, cli
from rulesgen.cli import _route_checks
from rulesgen.conventions import unit_test_file
from rulesgen.pipeline import compile_document
from rulesgen.spec.validate import Document, load_spec
from rulesgen.verify import batches as batching
from rulesgen.verify.closure import rule_closure
from rulesgen.verify.deployed import load_groups
from rulesgen.verify.promtool import AlertResult, batches, describe
from rulesgen.verify.report import Report, format_report
from rulesgen.verify.routing import RouteResult, route_input, routed_labels, verify_routing


def test_no_test_artefact_matches_a_rule_deploy_glob(generated: Path) -> None:
    tests = [p for p in generated.rglob("*") if p.is_file() and "tests" in p.relative_to(generated).parts]
    assert tests
    for path in tests:
        assert not any(fnmatch(path.name, g) for g in ("*.rules.yml", "*.rules.yaml")), path
        assert "rule_files" not in yaml.safe_load(path.read_text()), path  # filled in at test time


def test_closure_follows_recording_rules_transitively(generated: Path) -> None:
    closure = rule_closure(load_groups(generated / "prod"), "BillingTransactionFailureRatioHigh")
    names = [rule.get("record") or rule.get("alert") for group in closure for rule in group.rules]
    # the alert reads the ratio, which reads the shared per-status count: both come along, in deployed order
    assert names.index("network_status:billing_transactions:increase5m") < names.index(
        "network:billing_transactions_failure:ratio_rate5m"
    )
    assert names[-1] == "BillingTransactionFailureRatioHigh"
    assert not any(str(n).startswith("status:") for n in names)  # nothing the alert does not read


# Alerts whose rules share billing.rules.yml with BillingPendingBacklog (all but the
# burn rate, whose three-day scenarios would triple the test's time for no other claim).
NEIGHBOURS = ("BillingPendingBacklog", "BillingTransactionsFailing", "BillingMetricsAbsent", "BillingUnknownNetwork")
ONLY_NEIGHBOURS = [arg for name in NEIGHBOURS for arg in ("--alert", name)]


def test_a_hand_edited_deployed_threshold_fails_its_tests(generated: Path, tmp_path: Path) -> None:
    """The edit fails its own alert's tests and none of its neighbours' in the same file."""
    require("promtool")
    out = copied(generated, tmp_path)
    rules = out / "prod" / "prometheus" / "billing.rules.yml"
    text = rules.read_text()
    assert text.count('(last_over_time(billing_transactions_network_pending_total[2m]))) > 20"') == 1
    rules.write_text(
        text.replace(
            '(last_over_time(billing_transactions_network_pending_total[2m]))) > 20"',
            '(last_over_time(billing_transactions_network_pending_total[2m]))) > 2000"',
        )
    )
    result = run_cli("test", "--output", str(out), "--env", "prod", "--format", "json", *ONLY_NEIGHBOURS)
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    failed = [a for a in report["alerts"] if a["failed"]]
    assert [a["alert"] for a in failed] == ["BillingPendingBacklog"]
    assert sorted({a["alert"] for a in report["alerts"]}) == sorted(NEIGHBOURS)
    assert "exp:" in failed[0]["promtool"] and "got:[]" in failed[0]["promtool"]
    assert report["edited_rule_files"] == [f"{out}/prod/prometheus/billing.rules.yml"]
    text_result = run_cli("test", "--output", str(out), "--env", "prod", "--alert", "BillingPendingBacklog")
    assert text_result.returncode == 1
    assert "prod/BillingPendingBacklog failed" in text_result.stdout
    assert "differs from what `rulesgen generate` writes" in text_result.stdout


def test_the_unedited_copy_passes(generated: Path, tmp_path: Path) -> None:
    """Control for the hand-edit test: the same tree, unedited, passes."""
    require("promtool")
    out = copied(generated, tmp_path)
    result = run_cli("test", "--output", str(out), "--env", "prod", "--format", "json", *ONLY_NEIGHBOURS)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["edited_rule_files"] == []
    assert all(r["expected"] == r["actual"] for r in report["routes"])


def test_a_stale_output_is_refused(generated: Path, tmp_path: Path) -> None:
    require("promtool")
    out = copied(generated, tmp_path)
    test = out / "prod" / "tests" / unit_test_file("BillingPendingBacklog")
    test.write_text(test.read_text().replace("threshold > 20", "threshold > 30"))
    result = run_cli("test", "--output", str(out))
    assert result.returncode == 2
    assert unit_test_file("BillingPendingBacklog") in result.stderr and "rulesgen generate" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "nope"], "unknown environment 'nope'"),
        (["--jobs", "0"], "must be 1 or more"),
        (["--jobs", "-2"], "must be 1 or more"),
        (["--concurrency", "0"], "must be 1 or more"),
    ],
)
def test_bad_arguments_exit_2(generated: Path, args: list[str], message: str) -> None:
    result = run_cli("test", "--output", str(generated), *args)
    assert result.returncode == 2
    assert message in result.stderr
    if args[0] == "--env":
        assert "prod, staging" in result.stderr  # the known environments


def test_routed_labels_are_what_the_route_tree_and_inhibitions_match_on(generated: Path) -> None:
    config = yaml.safe_load((generated / "prod" / "alertmanager" / "alertmanager.yml").read_text())
    # team and env from the team routes, severity below them; the inhibitions add
    # alertname, network and slo_tier (matched or compared by `equal`)
    assert routed_labels(config) == frozenset({"team", "env", "severity", "alertname", "network", "slo_tier"})
    assert routed_labels({**config, "inhibit_rules": []}) == frozenset({"team", "env", "severity"})
    # a matcher string this parser does not take apart: nothing is shared
    assert routed_labels({"route": {"receiver": "x", "matchers": ['team="a",severity="b"']}}) is None
    assert routed_labels({"route": {"receiver": "x", "routes": [{"match_re": {"service": "db|api"}}]}}) == frozenset(
        {"service"}
    )


def test_route_input_keeps_an_absent_label_apart_from_a_present_one() -> None:
    routed = frozenset({"team", "tier"})
    assert route_input({"team": "a", "x": "1"}, routed) == route_input({"team": "a", "x": "2"}, routed)
    assert route_input({"team": "a"}, routed) != route_input({"team": "a", "tier": ""}, routed)
    assert route_input({"team": "a", "x": "1"}, None) != route_input({"team": "a", "x": "2"}, None)


def _without_inhibitions(out: Path, env: str) -> Path:
    """Drop the inhibitions, whose alertname matchers make every alert's route input its
    own: without them alerts of one team and severity share one amtool call."""
    config = out / env / "alertmanager" / "alertmanager.yml"
    doc = yaml.safe_load(config.read_text())
    doc.pop("inhibit_rules", None)
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    return config


def _amtool_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record every `amtool config routes test` the runner makes, still running it."""
    calls: list[list[str]] = []
    real = children.run

    def spy(args: list[str], *rest: Any, **kwargs: Any) -> Any:
        if args[1:4] == ["config", "routes", "test"]:
            calls.append(list(args))
        return real(args, *rest, **kwargs)

    monkeypatch.setattr(children, "run", spy)
    return calls


def _routing(out: Path, envs: list[str]) -> tuple[list[RouteResult], list[str]]:
    """What `rulesgen test` checks of routing: the CLI says where each alert rule must
    land (from the spec), the verification wing asks amtool."""
    checked, checks = _route_checks(compile_document(load_spec(SPEC)), envs, ())
    return verify_routing(checked, checks, out)


def _by_input(routes: list[RouteResult]) -> dict[tuple[Any, ...], list[RouteResult]]:
    groups: dict[tuple[Any, ...], list[RouteResult]] = {}
    for route in routes:
        groups.setdefault((route.env, tuple(sorted((route.route_input or {}).items()))), []).append(route)
    return groups


def test_one_amtool_call_per_route_input_and_a_verdict_per_alert_rule(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require("amtool")
    out = copied(generated, tmp_path)
    _without_inhibitions(out, "prod")
    calls = _amtool_calls(monkeypatch)
    routes, errors = _routing(out, ["prod"])
    assert not errors and routes and all(r.ok for r in routes)
    groups = _by_input(routes)
    assert len(calls) == len(groups) < len(routes)  # shared, and nothing left out
    assert max(len(g) for g in groups.values()) > 1
    assert all(r.shared == len(groups[(r.env, tuple(sorted((r.route_input or {}).items())))]) for r in routes)
    assert all(r.actual == [r.expected] for r in routes)
    # every alert rule of the spec still has its own entry
    alerts = Counter(r.alert for r in routes)
    assert "BillingTransactionsErrorBudgetBurn" in alerts and alerts["BillingTransactionsErrorBudgetBurn"] >= 2


def test_a_broken_route_fails_every_alert_rule_sharing_its_input(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require("amtool")
    out = copied(generated, tmp_path)
    config = _without_inhibitions(out, "prod")
    doc = yaml.safe_load(config.read_text())
    billing = next(r for r in doc["route"]["routes"] if 'team="billing"' in r["matchers"])
    critical = next(r for r in billing["routes"] if r["matchers"] == ['severity="critical"'])
    critical["receiver"] = "billing-chat"  # the pager route now goes to chat
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    calls = _amtool_calls(monkeypatch)
    routes, errors = _routing(out, ["prod"])
    assert not errors
    broken = [r for r in routes if r.labels["team"] == "billing" and r.labels["severity"] == "critical"]
    assert len(broken) >= 2 and len({r.alert for r in broken}) >= 2
    for route in broken:  # each alert rule names the failure in amtool's words
        assert not route.ok and route.actual == ["billing-chat"] and route.expected == "billing-pager"
        assert route.output
        assert route.shared == len(broken)
    assert all(r.ok for r in routes if r not in broken)
    assert len(calls) < len(routes)
    text = format_report(Report([], [], routes=routes))
    for route in broken:
        assert f"prod/{route.alert} " in text


def test_a_wrong_receiver_for_one_alert_among_those_sharing_an_input_is_its_own(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alert whose expected receiver differs from its route-input siblings' gets its
    own amtool call: its failure is not hidden by theirs passing, nor theirs by it."""
    require("amtool")
    out = copied(generated, tmp_path)
    _without_inhibitions(out, "prod")
    real = rulesgen.lower.routing.expected_receiver
    odd = "BillingTransactionsFailing"

    def expected(spec: Document, env: str, labels: Mapping[str, str]) -> str:
        return "billing-chat" if labels["alertname"] == odd else real(spec, env, labels)

    monkeypatch.setattr(rulesgen.lower.routing, "expected_receiver", expected)
    routes, _ = _routing(out, ["prod"])
    wrong = [r for r in routes if r.alert == odd]
    assert wrong and all(not r.ok and r.actual == ["billing-pager"] for r in wrong)
    siblings = [r for r in routes if r.alert != odd and r.route_input == wrong[0].route_input]
    assert siblings and all(r.ok for r in siblings)


CHEAP = ("BillingPendingBacklog", "RedisMemoryHigh", "BillingSubscriptionChurnHigh", "BillingUnknownNetwork")


@pytest.mark.parametrize("concurrency", [1, 2])
def test_concurrency_is_the_number_of_promtool_processes_at_a_time(
    generated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], concurrency: int
) -> None:
    require("promtool")
    monkeypatch.setenv("RULESGEN_CACHE_DIR", "off")  # a pass remembered by another test would not run
    running, most = [0], [0]
    lock = threading.Lock()
    real = children.run

    def spy(args: list[str], *rest: Any, **kwargs: Any) -> Any:
        if args[1:3] != ["test", "rules"]:
            return real(args, *rest, **kwargs)
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.3)  # long enough for every worker to have started its batch
        try:
            return real(args, *rest, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(children, "run", spy)
    alerts = [arg for alert in CHEAP for arg in ("--alert", alert)]
    argv = ["test", "--spec", str(SPEC), "--output", str(generated), "--env", "prod", "--format", "json"]
    code = cli.main([*argv, *alerts, "--concurrency", str(concurrency)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] and len(report["alerts"]) == len(CHEAP)
    assert most[0] == concurrency


def test_batch_cost_counts_groups_steps_and_samples(tmp_path: Path) -> None:
    """A longer evaluation, more input samples or more test groups cost more, so the
    batches balance the week-long tests against the short ones."""
    case = {"eval_time": "10m", "alertname": "A", "exp_alerts": []}
    group = {
        "name": "A/x",
        "interval": "1m",
        "input_series": [{"series": "m", "values": "0+1x10"}],
        "alert_rule_test": [case],
    }
    base = describe("prod", tmp_path / "A.promtool-test.yaml", {"tests": [group]}, 2).cost
    longer = {**group, "alert_rule_test": [{**case, "eval_time": "1d"}]}
    denser = {**group, "input_series": [{"series": "m", "values": "0+1x10000"}]}
    for doc in ({"tests": [longer]}, {"tests": [denser]}, {"tests": [group, group]}):
        assert describe("prod", tmp_path / "A.promtool-test.yaml", doc, 2).cost > base
    assert describe("prod", tmp_path / "A.promtool-test.yaml", {"tests": [group]}, 5).cost > base


def _results(costs: list[int]) -> list[AlertResult]:
    return [
        AlertResult("prod", f"A{i}", Path(f"A{i}.promtool-test.yaml"), ["s"], True, True, cost=cost)
        for i, cost in enumerate(costs)
    ]


def test_batches_keep_every_file_once() -> None:
    results = _results([(i * 7919) % 97 for i in range(50)])
    planned = batches(results, 2, timeout=600)
    assert len(planned) == 2 * batching.BATCHES_PER_WORKER  # cheap files: only the pool's minimum
    assert sorted(r.alert for b in planned for r in b) == sorted(r.alert for r in results)
    loads = [sum(r.cost for r in b) for b in planned]
    assert max(loads) - min(loads) <= max(r.cost for r in results)
    assert loads == sorted(loads, reverse=True)  # costliest first: cheap ones fill the end


def test_no_batch_is_planned_beyond_its_share_of_the_timeout() -> None:
    """At 500 alerts, six batches of 12 CPU minutes each timed out at `--timeout 600` and
    judged nothing: the number of batches grows with the estimated cost instead."""
    timeout = 600.0
    limit = batching.budget(timeout)
    assert limit == timeout * 1e6 * batching.TIMEOUT_SHARE
    results = _results([limit // 7 + (i * 7919) % (limit // 5) for i in range(1000)])
    planned = batches(results, 2, timeout)
    assert sorted(r.alert for b in planned for r in b) == sorted(r.alert for r in results)
    assert all(sum(r.cost for r in b) <= limit for b in planned)
    total = sum(r.cost for r in results)
    assert len(planned) < 1.5 * total / limit  # bounded, not one file per process
    # the same files with a longer timeout go in fewer, larger batches
    assert len(batches(results, 2, timeout * 4)) < len(planned)


def test_a_file_costlier_than_the_share_runs_alone() -> None:
    limit = batching.budget(600)
    results = _results([3 * limit, limit // 2, limit // 2, limit // 4])
    planned = batches(results, 1, 600)
    assert [r.alert for r in planned[0]] == ["A0"]
    assert all(sum(r.cost for r in b) <= limit for b in planned[1:])


def test_max_files_raises_the_batch_count() -> None:
    results = _results([1] * 100)
    assert len(batches(results, 1, 600, max_files=10)) == 10


def test_the_coverage_gate_alone_runs_no_promtool(generated: Path, tmp_path: Path) -> None:
    """`--coverage-only` reads the test files only: with neither promtool nor amtool on
    PATH a fresh tree passes, and an alert deployed without tests is a gap (exit 1)."""
    out = copied(generated, tmp_path)
    no_tools = {"PATH": str(tmp_path / "no-tools")}
    clean = run_cli("test", "--output", str(out), "--coverage-only", "--format", "json", env=no_tools)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    report = json.loads(clean.stdout)
    assert report["promtool_ran"] is False and report["routes"] == [] and report["untested"] == []
    assert len(report["alerts"]) > 20 and all(a["covered"] for a in report["alerts"])
    rules = out / "prod" / "prometheus" / "billing.rules.yml"
    doc = yaml.safe_load(rules.read_text())
    doc["groups"][0]["rules"].append({"alert": "HandWritten", "expr": "vector(1)", "labels": {"severity": "page"}})
    rules.write_text(yaml.safe_dump(doc))
    gap = run_cli("test", "--output", str(out), "--coverage-only", "--env", "prod", env=no_tools)
    assert gap.returncode == 1, gap.stdout + gap.stderr
    assert any(line.split()[:2] == ["prod", "HandWritten"] and "no tests" in line for line in gap.stdout.splitlines())
    assert "1 coverage gaps; promtool not run (--coverage-only)" in gap.stdout


def _promtool_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The test files promtool is asked to run from here on."""
    ran: list[str] = []
    real = children.run

    def spy(args: list[str], *rest: Any, **kwargs: Any) -> Any:
        if args[1:3] == ["test", "rules"]:
            ran.extend(args[3:])
        return real(args, *rest, **kwargs)

    monkeypatch.setattr(children, "run", spy)
    return ran


def test_a_file_that_passed_is_not_run_again_until_its_rules_change(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each proof runs once: a pass is remembered by the rules, the test file and
    promtool; a hand edit of a deployed rule runs (and fails) its file again, and a
    failure is never remembered."""
    require("promtool")
    monkeypatch.setenv("RULESGEN_CACHE_DIR", str(tmp_path / "cache"))
    out = copied(generated, tmp_path)
    argv = ["test", "--spec", str(SPEC), "--output", str(out), "--env", "prod", "--format", "json", *ONLY_NEIGHBOURS]
    ran = _promtool_runs(monkeypatch)
    assert cli.main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert ran and not any(a["passed_before"] for a in first["alerts"])
    ran.clear()
    assert cli.main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert ran == [] and all(a["passed_before"] for a in again["alerts"])
    rules = out / "prod" / "prometheus" / "billing.rules.yml"
    edited = '(last_over_time(billing_transactions_network_pending_total[2m]))) > 20"'
    rules.write_text(rules.read_text().replace(edited, edited.replace("20", "2000")))
    for _ in range(2):
        assert cli.main(argv) == 1
        report = json.loads(capsys.readouterr().out)
        failed = [a["alert"] for a in report["alerts"] if a["failed"]]
        assert failed == ["BillingPendingBacklog"] and len(ran) == 1, ran
        ran.clear()
