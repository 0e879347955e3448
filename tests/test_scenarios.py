"""Generated tests prove every alert: they pass on the real rules, cover firing and
silence, and fail when a threshold or a `for` is changed (mutation check)."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import OUTPUT, SPEC, minimal_text, require, run_cli
from rulesgen.conventions import TEST_SUFFIX, alert_of, unit_test_file
from rulesgen.errors import Diagnostic
from rulesgen.ir import Alert, RuleGroup
from rulesgen.lower.alerts import AlertCompiler
from rulesgen.mutate import alert_mutants
from rulesgen.pipeline import build_text, compile_document
from rulesgen.spec.validate import load_spec
from rulesgen.targets.prometheus import groups_document
from rulesgen.targets.yamlout import dump
from rulesgen.verify.closure import rule_closure
from rulesgen.verify.deployed import load_groups
from rulesgen.verify.promtool import AlertResult, describe, read_test, run_promtool, write_run_files
from rulesgen.verify.report import format_report
from rulesgen.verify.suite import run_tests

ENVS = sorted(p.name for p in OUTPUT.iterdir() if (p / "prometheus").is_dir())


@pytest.mark.parametrize("env", ENVS)
def test_rulesgen_test_passes_for_every_environment(env: str, tmp_path: Path) -> None:
    require("promtool")
    junit = tmp_path / "junit.xml"
    result = run_cli("test", "--env", env, "--junit", str(junit))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
    assert junit.read_text().count("<testcase") >= 5 * len(list((OUTPUT / env / "tests").glob(f"*{TEST_SUFFIX}")))
    assert "<failure" not in junit.read_text()


def test_every_alert_has_firing_and_silent_scenarios() -> None:
    for env in ENVS:
        rule_alerts = {
            rule["alert"]
            for path in (OUTPUT / env / "prometheus").glob("*.yml")
            for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"]
            if "alert" in rule
        }
        for alert in rule_alerts:
            doc = yaml.safe_load((OUTPUT / env / "tests" / unit_test_file(alert)).read_text())
            names = {t["name"].split("/", 1)[1] for t in doc["tests"]}
            expectations = [c["exp_alerts"] for t in doc["tests"] for c in t["alert_rule_test"]]
            assert any(expectations) and not all(expectations), (env, alert)
            assert {"healthy", "no_data"} <= names, (env, alert, names)
            assert any(n.startswith("breach") for n in names), (env, alert, names)


def test_expected_alerts_are_complete() -> None:
    """Firing expectations carry every label and annotation of the rule, values expanded."""
    doc = yaml.safe_load((OUTPUT / "prod" / "tests" / unit_test_file("BillingTransactionsFailing")).read_text())
    breach = next(t for t in doc["tests"] if t["name"].endswith("/breach"))
    alerts = next(c for c in breach["alert_rule_test"] if c["exp_alerts"])["exp_alerts"]
    firing = next(a for a in alerts if a["exp_labels"]["network"] == "polygon")  # every mainnet breaches
    assert firing["exp_labels"] == {"env": "prod", "network": "polygon", "severity": "critical", "team": "billing"}
    assert set(firing["exp_annotations"]) == {"summary", "description", "runbook_url", "dashboard_url"}
    assert firing["exp_annotations"]["description"].startswith("6 increase of billing_transactions_total in 5m")
    assert "{{" not in json.dumps(firing)


def test_label_scope_scenarios() -> None:
    doc = yaml.safe_load((OUTPUT / "prod" / "tests" / unit_test_file("BillingMainnetNetworkFailures")).read_text())
    outside = next(t for t in doc["tests"] if t["name"].endswith("/outside_network"))
    assert 'network=\\"polygon-amoy\\"' in json.dumps(outside["input_series"])
    assert all(not c["exp_alerts"] for c in outside["alert_rule_test"])
    latency = yaml.safe_load((OUTPUT / "prod" / "tests" / unit_test_file("ApiLatencyRegression")).read_text())
    scoped = next(t for t in latency["tests"] if t["name"].endswith("/one_group_only"))
    fired = [a["exp_labels"]["route"] for c in scoped["alert_rule_test"] for a in c["exp_alerts"]]
    assert set(fired) == {"/v1/nodes"}  # /v1/notifications is healthy in the same test


def _mutants(tmp_path: Path, unmutated: bool = False) -> list[tuple[str, str]]:
    """Write, per alert and environment, its original tests against mutated rules (or,
    `unmutated`, against its own rules deployed the same way)."""
    result = compile_document(load_spec(SPEC))
    compiler = AlertCompiler(result.doc)
    made = []
    for ctx in result.contexts:
        for alert, compiled in ctx.compiled():
            variants = {"nudged": alert.model.nudged()}
            if any(f.ms for f in alert.model.variant_fors()):
                variants["no_for"] = alert.model.without_for()
            if unmutated:
                variants = {"unmutated": alert.model}
            for name, mutant in variants.items():
                errors: list[Diagnostic] = []
                mutated: Alert = compiler.compile(ctx.env, replace(alert, model=mutant), errors)
                assert not errors
                assert (mutated.rules == compiled.rules) == unmutated, (compiled.name, name)
                root = tmp_path / f"{ctx.env}-{compiled.name}-{name}"
                (root / ctx.env / "prometheus").mkdir(parents=True)
                tests = root / ctx.env / "tests"
                tests.mkdir()
                for every in {
                    s.evaluation_interval
                    for t in result.tests.of(ctx.env)
                    if t.alert == compiled.name
                    for s in t.scenarios
                }:
                    shutil.copy(OUTPUT / ctx.env / "tests" / unit_test_file(compiled.name, every), tests)
                step = next(t for t in result.tests.of(ctx.env) if t.alert == compiled.name).evaluation_interval
                # the runner takes the alert's rules from the deployed files: deploy the mutant
                group = RuleGroup("mutant", "mutant.rules.yml", step, (*mutated.records, *mutated.rules))
                (root / ctx.env / "prometheus" / "mutant.rules.yml").write_bytes(dump(groups_document([group])))
                made.append((root.name, compiled.name))
    return made


def _caught(roots: list[Path], only: dict[str, set[str]] | None = None) -> dict[str, str]:
    """The mutant trees (named by directory) in which a generated test fails, with the
    file that failed. Each tree's files run cheapest first (`only`: just the files named
    for its alert and environment) and a tree is dropped at its first failure: the
    verdict of a full run, for the cost of the files up to the one that catches it."""
    pending: dict[str, list[AlertResult]] = {}
    for root in roots:
        (env,) = [p for p in root.iterdir() if (p / "prometheus").is_dir()]
        deployed = load_groups(env)
        work = root / "run"
        work.mkdir()
        results = []
        for path in sorted((env / "tests").glob(f"*{TEST_SUFFIX}")):
            if only is not None and path.name not in only.get(f"{env.name}/{alert_of(path.name)}", set()):
                continue
            doc = read_test(path)
            closure = rule_closure(deployed, alert_of(path.name))
            result = describe(root.name, path, doc, sum(len(g.rules) for g in closure))
            result.run_file = write_run_files(doc, closure, work, path.name.removesuffix(TEST_SUFFIX))[1]
            results.append(result)
        pending[root.name] = sorted(results, key=lambda r: r.cost)
    caught: dict[str, str] = {}
    while pending:
        round_ = [files[0] for files in pending.values() if files]
        run_promtool(round_, jobs=2)
        for result in round_:
            files = pending.pop(result.env)
            if not result.ok:
                caught[result.env] = f"{result.file.parent.parent.name}/{result.alert}:{result.file.name}"
            elif files[1:]:
                pending[result.env] = files[1:]
        pending = {k: v for k, v in pending.items() if v}
    return caught


def test_mutations_of_threshold_and_for_are_caught(tmp_path: Path) -> None:
    """Nudging a threshold one step toward safe, or dropping `for`, fails a generated test;
    the same file passes on the alert's own rules deployed the same way (the control: a
    harness that failed everything would catch every mutant)."""
    require("promtool")
    mutants = _mutants(tmp_path / "mutants")
    assert len(mutants) >= 2 * 10
    caught = _caught([tmp_path / "mutants" / name for name, _ in mutants])
    survived = sorted({name for name, _ in mutants} - set(caught))
    assert not survived, f"mutants not caught by any generated test: {survived}"
    catching: dict[str, set[str]] = {}
    for where in caught.values():
        key, _, file = where.partition(":")
        catching.setdefault(key, set()).add(file)
    controls = _mutants(tmp_path / "controls", unmutated=True)
    failed = _caught([tmp_path / "controls" / name for name, _ in controls], catching)
    assert not failed, f"the unmutated rules fail the files that caught their mutants: {failed}"


def test_coverage_gate_fails_an_alert_without_tests(tmp_path: Path) -> None:
    require("promtool")
    shutil.copytree(OUTPUT / "prod", tmp_path / "prod")
    (tmp_path / "prod" / "tests" / unit_test_file("RedisMemoryHigh")).unlink()
    # `rulesgen test` refuses this tree as stale (exit 2); the runner itself is the gate
    report = run_tests(tmp_path, alerts={"RedisMemoryHigh", "BillingPendingBacklog"})
    assert not report.ok and ("prod", "RedisMemoryHigh") in report.untested
    assert "no tests" in format_report(report)


def test_failing_test_reports_promtool_explanation(tmp_path: Path) -> None:
    require("promtool")
    shutil.copytree(OUTPUT / "prod", tmp_path / "prod")
    rules = tmp_path / "prod" / "prometheus" / "billing.rules.yml"  # the deployed file, edited by hand
    rules.write_text(rules.read_text().replace('> 20"', '> 25"'))
    junit = tmp_path / "junit.xml"
    result = run_cli("test", "--output", str(tmp_path), "--junit", str(junit), "--alert", "BillingPendingBacklog")
    assert result.returncode == 1
    assert "prod/BillingPendingBacklog failed" in result.stdout
    assert "exp:" in result.stdout and "got:" in result.stdout  # promtool's own words
    assert '<failure message="promtool test failed">' in junit.read_text()
    assert "billing.rules.yml differs from what `rulesgen generate` writes" in result.stdout


def test_missing_promtool_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("test", env={"PATH": str(tmp_path)})
    assert result.returncode == 2
    assert "promtool not found" in result.stderr and "apt-get install -y prometheus" in result.stderr
    assert "Traceback" not in result.stderr


EXAMPLE = """
    examples:
      - input_series:
          - series: 'tx_total{status="failed", network="polygon"}'
            values: "VALUES"
        expect:
          - at: "AT"
            firing: FIRING
"""


def _with_example(values: str, at: str, firing: str, extra: str = "") -> str:
    block = EXAMPLE.replace("VALUES", values).replace("AT", at).replace("FIRING", firing) + extra
    return minimal_text().replace(
        '    summary: "More than [[ threshold ]] failed"\n',
        '    summary: "More than [[ threshold ]] failed"' + block,
        1,
    )


def test_example_becomes_a_test() -> None:
    files = build_text(_with_example("0+2x10", "8m", '[{network: "polygon"}]'), "spec.yaml")
    doc = yaml.safe_load(files["prod/tests/" + unit_test_file("TxFailing")])
    example = next(t for t in doc["tests"] if t["name"] == "TxFailing/example_0")
    assert example["input_series"] == [{"series": 'tx_total{network="polygon",status="failed"}', "values": "0+2x10"}]
    assert example["alert_rule_test"][0]["exp_alerts"][0]["exp_labels"]["network"] == "polygon"


def _scenario(alert: str, name: str, env: str = "prod") -> dict[str, Any]:
    doc = yaml.safe_load((OUTPUT / env / "tests" / unit_test_file(alert)).read_text())
    return next(t for t in doc["tests"] if t["name"] == f"{alert}/{name}")


def test_shaped_breach_spreads_sums_breaches_every_named_value_and_carries_excluded_traffic() -> None:
    """The breach of a per-network sum over mainnets: each mainnet breaches, split over two
    sources (only the sum crosses), beside testnet and other-status traffic the rule must
    ignore and a counter that stopped."""
    breach = _scenario("BillingTransactionsFailing", "breach")
    series = [s["series"] for s in breach["input_series"]]
    for network in ("polygon", "arbitrum"):
        for source in ("source-a", "source-b"):
            assert any(f'network="{network}",source="{source}",status="failed"' in s for s in series), (network, source)
    # one stalled counter per metric is enough to tell a reset from a flat counter
    assert any('source="source-stalled",status="failed"' in s for s in series)
    assert any('network="polygon-amoy"' in s for s in series)
    assert any('status="other-status"' in s for s in series)
    firing = {a["exp_labels"]["network"] for check in breach["alert_rule_test"] for a in check["exp_alerts"]}
    assert firing == {"polygon", "arbitrum"}


def test_healthy_gauge_sits_exactly_on_the_threshold() -> None:
    healthy = _scenario("BillingPendingBacklog", "healthy")
    values = [
        s["values"]
        for s in healthy["input_series"]
        if "token-stalled" not in s["series"] and not s["series"].startswith("up{")
    ]
    assert sorted(values) == ["10+0x26", "10+0x26"]  # 10 + 10 = the threshold 20, split over two tokens
    assert all(not check["exp_alerts"] for check in healthy["alert_rule_test"])


def test_each_burn_rate_tier_crosses_its_limit_on_an_evaluation() -> None:
    doc = yaml.safe_load((OUTPUT / "prod" / "tests" / unit_test_file("BillingTransactionsErrorBudgetBurn")).read_text())
    crossing = [t for t in doc["tests"] if t["name"].endswith("_crosses_its_limit_exactly")]
    assert len(crossing) == 4
    for test in crossing:
        tier = test["name"].split("/")[1].split("_")[0]
        fired = [any(a["exp_labels"]["slo_tier"] == tier for a in c["exp_alerts"]) for c in test["alert_rule_test"]]
        assert False in fired and True in fired, test["name"]  # checked before and after it fires


@pytest.mark.parametrize("alert", ["BillingTransactionsErrorBudgetBurn", "ApiLatencyRegression"])
def test_for_edges_fail_on_half_and_twice_the_for(alert: str, tmp_path: Path) -> None:
    """Alerts whose tests evaluate hourly or slower pin each `for` in a file evaluated
    finely: every `for` with such a file, halved or doubled, fails one of them."""
    require("promtool")
    edges = sorted((OUTPUT / "prod" / "tests").glob(f"{alert}.every-*{TEST_SUFFIX}"))
    assert edges
    docs = [read_test(path) for path in edges]
    # Other scenarios evaluated as finely share the files: for edges name their `for`.
    edge_names = (re.search(r"_for_(\w+?)_every_", t["name"]) for doc in docs for t in doc["tests"])
    pinned = {found[1] for found in edge_names if found}
    closure = rule_closure(load_groups(OUTPUT / "prod"), alert)
    checked = 0
    for mutant, mutated in alert_mutants("prod", alert, closure):
        if mutant.operator not in ("for-halved", "for-doubled") or mutant.before not in pinned:
            continue
        runs = [
            replace(
                describe("prod", path, doc, 1), run_file=write_run_files(doc, mutated, tmp_path, f"m{checked}.{i}")[1]
            )
            for i, (path, doc) in enumerate(zip(edges, docs, strict=True))
        ]
        run_promtool(runs, jobs=2)
        assert not all(r.ok for r in runs), (mutant.operator, mutant.before, mutant.after)
        checked += 1
    assert checked == 2 * len(pinned)


BURN = "BillingTransactionsErrorBudgetBurn"
FAILING = "BillingTransactionsFailing"
# (alert, operator, window of the counting record, text only the mutant has, the one
# scenario that must kill it): each production-fault family, sharp on the clause it is for.
COUNTING_KILLS = [
    # The birth guard widened to any target of the family: a replica's lifetime totals
    # count when it returns after failed scrapes while its sibling kept the family alive.
    (BURN, "on-labels-dropped", "1h", "and on() (up", "replica_returns_during_breach"),
    # The reset guard dropped: differences see one life of a crash-looping worker.
    (BURN, "unless-dropped-keep-left", "5m", "offset 5m)) or increase", "crash_loop"),
    (BURN, "unless-dropped-keep-left", "1h", "offset 1h)) or increase", "crash_loop"),
    # The range count turned to delta(): a crash loop's resets are no longer added up.
    (BURN, "increase-to-delta", "1h", "or delta(", "crash_loop"),
    # The birth guard dropped: a target back after a failed scrape counts its series whole.
    (BURN, "and-dropped-keep-left", "5m", "offset 5m)) or ((", "failed_scrapes"),
    # The same mutant through a fresh Prometheus: the exporters' lifetime totals count
    # whole and page `for` (1m) after the start.
    (FAILING, "and-dropped-keep-left", "5m", "offset 5m)) or ((", "fresh_start"),
]


@pytest.mark.parametrize(("alert", "operator", "window", "marker", "scenario"), COUNTING_KILLS)
def test_each_counter_scenario_kills_the_counting_mutant_it_is_for(
    alert: str, operator: str, window: str, marker: str, scenario: str, tmp_path: Path
) -> None:
    """The scenario passes on the real rules and fails on the mutant of the alert's
    counting record of `window` (the record counts events exactly: births, restarts,
    fresh starts and outages are where a wrong rule shows)."""
    require("promtool")
    docs = {path: read_test(path) for path in sorted((OUTPUT / "prod" / "tests").glob(f"{alert}*{TEST_SUFFIX}"))}
    found = [
        (path, {**doc, "tests": [t]})
        for path, doc in docs.items()
        for t in doc["tests"]
        if t["name"] == f"{alert}/{scenario}"
    ]
    assert len(found) == 1, scenario
    path, doc = found[0]
    closure = rule_closure(load_groups(OUTPUT / "prod"), alert)
    record = f"record network_status:billing_transactions:increase{window}"
    mutants = [
        mutated
        for mutant, mutated in alert_mutants("prod", alert, closure)
        if mutant.operator == operator
        and mutant.rule == record
        and marker in mutant.after
        and not (marker and marker in mutant.before)
    ]
    assert len(mutants) == 1, (operator, window, marker)
    runs = [
        replace(describe("prod", path, doc, 1), run_file=write_run_files(doc, rules, tmp_path, name)[1])
        for name, rules in (("real", closure), ("mutant", mutants[0]))
    ]
    run_promtool(runs, jobs=2)
    assert [r.ok for r in runs] == [True, False], runs[0].output
