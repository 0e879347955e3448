"""The expanded PromQL `rulesgen explain` shows is the deployed alert: promtool evaluates
both on every generated scenario of every alert, at each time the scenario checks the
alert, and finds no series in one that is not in the other and no value that differs.

The generated alert tests run in the same groups, so the deployed alert is known to
fire at some of those times: an expansion that returned nothing would fail."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from conftest import OUTPUT, SPEC, require
from rulesgen.conventions import TEST_SUFFIX, alert_of
from rulesgen.explain import explain
from rulesgen.ir import ProgramIR, RecordingRule, TestSuite
from rulesgen.pipeline import compile_spec
from rulesgen.promql_inline import inline
from rulesgen.spec.validate import load_spec
from rulesgen.verify.closure import rule_closure
from rulesgen.verify.deployed import load_groups
from rulesgen.verify.promtool import describe, read_test, write_run_files

# What the regex expansion explain shipped before printed for BillingTransactionsFailing
# in prod: the alert's status="failed" reached the first selector only, so the exact
# differences and increase() counted succeeded transactions too.
REGEX_EXPANSION = (
    'sum by (network) ((sum by (network, status) (((billing_transactions_total{network=~"arbitrum|polygon",'
    'status=~"failed|succeeded",network=~"arbitrum|polygon",status="failed"} unless '
    'billing_transactions_total{network=~"arbitrum|polygon",status=~"failed|succeeded"} offset 5m) and '
    'on(job, instance) (up offset 5m == 1)) or ((billing_transactions_total{network=~"arbitrum|polygon",'
    'status=~"failed|succeeded"} - billing_transactions_total{network=~"arbitrum|polygon",'
    'status=~"failed|succeeded"} offset 5m) unless resets(billing_transactions_total{network=~"arbitrum|polygon",'
    'status=~"failed|succeeded"}[5m]) > 0) or increase(billing_transactions_total{network=~"arbitrum|polygon",'
    'status=~"failed|succeeded"}[5m])))) > 5'
)

# Scenarios whose promtool cost `rulesgen test` estimates under this (microseconds) are
# all checked; a costlier one only when it is the cheapest left that makes one of the
# alert's rules fire. Multi-day burn-rate and week-long latency histories are the costly
# ones: their cheapest firing scenarios stand for them, so the check takes seconds.
CHEAP_US = 50_000


@dataclass(frozen=True)
class Expansion:
    """One deployed alerting rule and the expansion explain shows for it."""

    deployed: str
    expanded: str
    labels: Mapping[str, str]


@cache
def program() -> ProgramIR:
    return compile_spec(load_spec(SPEC), tests=False)


def expansions(env: str) -> dict[str, list[Expansion]]:
    """Per alert of `env`, each deployed alerting rule with what explain shows expanded
    for it (explain's unexpanded PromQL must be the deployed one)."""
    deployed: dict[str, list[dict[str, Any]]] = {}
    for group in load_groups(OUTPUT / env):
        for rule in group.rules:
            if "alert" in rule:
                deployed.setdefault(str(rule["alert"]), []).append(rule)
    out: dict[str, list[Expansion]] = {}
    for alert, rules in deployed.items():
        shown = explain(program(), TestSuite(), alert, [env])["environments"][env]["rules"]
        assert [r["expr"] for r in shown] == [r["expr"] for r in rules], f"{env} {alert}: explain shows other PromQL"
        out[alert] = [
            Expansion(str(rule["expr"]), r["expanded"], rule.get("labels") or {})
            for rule, r in zip(rules, shown, strict=True)
        ]
    return out


def differences(a: str, b: str) -> str:
    """Series of either not in the other, and series of both whose values differ:
    empty exactly when `a` and `b` return the same series and values (`__name__` aside,
    which an alert drops)."""
    return f"(({a}) unless ({b})) or (({b}) unless ({a})) or (({a}) != ({b}))"


def fired(group: Mapping[str, Any], rules: Sequence[Expansion]) -> set[int]:
    """The rules a generated scenario expects firing at some time."""
    expected = [a.get("exp_labels") or {} for c in group.get("alert_rule_test") or [] for a in c["exp_alerts"]]
    return {i for i, rule in enumerate(rules) if any(rule.labels.items() <= labels.items() for labels in expected)}


def scenarios(env: str, alert: str, rules: Sequence[Expansion], closure: int) -> dict[Path, set[str]]:
    """The generated scenarios (groups, by name, per test file) checked for `alert`:
    the cheap ones, and the cheapest that makes each rule fire."""
    found = []
    for path in sorted((OUTPUT / env / "tests").glob(f"*{TEST_SUFFIX}")):
        if alert_of(path.name) != alert:
            continue
        doc = read_test(path)
        for group in doc.get("tests") or []:
            cost = describe(env, path, {**doc, "tests": [group]}, closure).cost
            found.append((cost, path, str(group["name"]), fired(group, rules)))
    chosen: dict[Path, set[str]] = {}
    unfired = set(range(len(rules)))
    for cost, path, name, fires in sorted(found, key=lambda f: (f[0], str(f[1]), f[2])):
        if cost <= CHEAP_US or fires & unfired:
            chosen.setdefault(path, set()).add(name)
            unfired -= fires
    assert not unfired, f"{env} {alert}: no generated scenario fires rules {sorted(unfired)}"
    return chosen


def equivalence_test(doc: Mapping[str, Any], names: set[str], rules: Sequence[Expansion]) -> dict[str, Any]:
    """The generated test `doc`, its scenarios `names` only, each comparing every rule
    with its expansion at every time the scenario checks the alert."""
    groups = []
    for group in doc.get("tests") or []:
        if group["name"] not in names:
            continue
        times = sorted({str(c["eval_time"]) for c in group.get("alert_rule_test") or []})
        checks = [
            {"expr": differences(rule.deployed, rule.expanded), "eval_time": t, "exp_samples": []}
            for t in times
            for rule in rules
        ]
        groups.append({**group, "promql_expr_test": [*(group.get("promql_expr_test") or []), *checks]})
    return {**doc, "tests": groups}


def write_files(env: str, rules_of: Mapping[str, Sequence[Expansion]], work: Path) -> list[Path]:
    """promtool test files comparing each alert of `rules_of` with its expansion on its
    chosen scenarios, each file with the alert's deployed rules and the records they read."""
    deployed = load_groups(OUTPUT / env)
    files = []
    for alert, rules in sorted(rules_of.items()):
        closure = rule_closure(deployed, alert)
        chosen = scenarios(env, alert, rules, sum(len(g.rules) for g in closure))
        for path, names in sorted(chosen.items()):
            doc = equivalence_test(read_test(path), names, rules)
            _, test = write_run_files(doc, closure, work, f"{env}.{path.name}")
            files.append(test)
    return files


def promtool(files: Sequence[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require("promtool"), "test", "rules", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("env", ["prod", "staging"])
def test_explain_expands_every_alert_to_what_is_deployed(env: str, tmp_path: Path) -> None:
    rules_of = expansions(env)
    files = write_files(env, rules_of, tmp_path)
    checked = {alert_of(f.name.removeprefix(f"{env}.").removesuffix(".test.json")) for f in files}
    assert checked == set(rules_of)
    proc = promtool(files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == len(files), proc.stdout


def test_the_regex_expansion_fails_the_same_check(tmp_path: Path) -> None:
    """The check can fail: the old expansion of BillingTransactionsFailing, which counted
    succeeded transactions, differs from the deployed alert on the generated scenarios."""
    alert = "BillingTransactionsFailing"
    (rule,) = expansions("prod")[alert]
    assert rule.expanded != REGEX_EXPANSION
    (file,) = write_files("prod", {alert: [replace(rule, expanded=REGEX_EXPANSION)]}, tmp_path)
    proc = promtool([file])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "FAILED" in out, out
    # Healthy traffic (a failure every 2 minutes per source, 10 successes a minute) pages
    # on the old expansion: the successes are counted.
    assert 'exp: nil\n        got: {network="polygon"}' in out, out


def test_the_expansion_is_one_line_with_label_values_as_written() -> None:
    records = {"r": RecordingRule("r", 'sum by (a) (m{b="q  r"} unless m offset 5m)')}
    assert inline('r{a="x  ( y )"} > 1', records) == '(sum by (a) (m{a="x  ( y )",b="q  r"} unless m offset 5m)) > 1'
