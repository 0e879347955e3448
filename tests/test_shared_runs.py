"""`rulesgen test` runs a scenario once for environments that differ only in static
labels and annotations, and a defect of one environment alone still fails it."""

from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from conftest import SPEC, copied, require
from rulesgen import children, cli
from rulesgen.conventions import TEST_SUFFIX, unit_test_file
from rulesgen.verify.closure import ClosureGroup
from rulesgen.verify.deployed import load_groups
from rulesgen.verify.promtool import run_promtool
from rulesgen.verify.sharing import check_static, substitution
from rulesgen.verify.suite import _plan_sharing, _prepare, _Prepared

# Equal in both environments but for static labels (shared), and one that staging
# overrides (its own run): cheap alerts, so the promtool runs stay short.
SHARED = ("RedisMemoryHigh", "BillingUnknownNetwork")
OVERRIDDEN = "BillingPendingBacklog"
RULES = "platform.rules.yml"
REDIS_RULE = '  - alert: "RedisMemoryHigh"\n    expr: "instance:redis_memory_utilisation:ratio > 0.6"'


@pytest.fixture
def out(generated: Path, tmp_path: Path) -> Path:
    return copied(generated, tmp_path)


def _prepared(output: Path, work: Path, alerts: tuple[str, ...] = ()) -> list[_Prepared]:
    found: list[_Prepared] = []
    for env in ("prod", "staging"):
        deployed = load_groups(output / env)
        (work / env).mkdir()
        for path in sorted((output / env / "tests").glob(f"*{TEST_SUFFIX}")):
            if not alerts or path.name.split(".")[0] in alerts:
                found.append(_prepare(env, path, deployed, work / env))
    return found


def _edit_staging_redis(output: Path, old: str, new: str) -> None:
    """Replace `old` by `new` in staging's RedisMemoryHigh rule only."""
    path = output / "staging" / "prometheus" / RULES
    text = path.read_text()
    start = text.index(REDIS_RULE)
    end = text.find("\n  - ", start) % (len(text) + 1)  # the next rule, or the end of the file
    rule = text[start:end]
    assert old in rule
    path.write_text(text[:start] + rule.replace(old, new) + text[end:])


def _test(output: Path, alerts: tuple[str, ...], capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, Any]:
    argv = ["test", "--spec", str(SPEC), "--output", str(output), "--format", "json", *extra]
    code = cli.main([*argv, *(a for alert in alerts for a in ("--alert", alert))])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def promtool_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The test files every promtool process is given (with no remembered passes: a
    file another test passed would not run)."""
    monkeypatch.setenv("RULESGEN_CACHE_DIR", "off")
    files: list[str] = []
    lock = threading.Lock()
    real = children.run

    def spy(args: list[str], *rest: Any, **kwargs: Any) -> Any:
        if args[1:3] == ["test", "rules"]:
            with lock:
                files.extend(args[3:])
        return real(args, *rest, **kwargs)

    monkeypatch.setattr(children, "run", spy)
    return files


def test_the_shipped_spec_shares_most_of_stagings_scenarios(generated: Path, tmp_path: Path) -> None:
    """Planning only: staging's files equal to prod's but for static labels share prod's
    runs (the burn rate's four files among them), and those staging overrides do not."""
    prepared = _prepared(generated, tmp_path)
    runs, shares = _plan_sharing(prepared)
    shared = {s.mine.result.file.name for s in shares}
    assert all(s.mine.result.env == "staging" and s.theirs.result.env == "prod" for s in shares)
    assert all(not s.check.failed for s in shares)  # the shipped expectations follow
    assert {unit_test_file("BillingTransactionsErrorBudgetBurn"), unit_test_file("RedisMemoryHigh")} <= shared
    assert unit_test_file(OVERRIDDEN) not in shared  # staging's threshold is 50, prod's 20
    total = sum(p.result.cost for p in prepared)
    ran = sum(r.result.cost for r in runs)
    assert len(runs) + len(shares) == len(prepared)
    assert ran < 0.75 * total, (ran, total)  # the burn rate is most of promtool's work


def test_shared_runs_skip_stagings_promtool_and_report_every_environment(
    generated: Path, tmp_path: Path, promtool_files: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    require("promtool")
    junit = tmp_path / "junit.xml"
    code, report = _test(generated, (*SHARED, OVERRIDDEN), capsys, "--junit", str(junit))
    assert code == 0 and report["ok"], report
    listed = {(a["env"], a["alert"]): a["shared_run_with"] for a in report["alerts"]}
    assert listed == {
        **{("prod", a): None for a in (*SHARED, OVERRIDDEN)},
        **{("staging", a): "prod" for a in SHARED},
        ("staging", OVERRIDDEN): None,
    }
    ran = sorted(Path(f).name.removesuffix(".test.json") for f in promtool_files)
    assert ran == sorted([*SHARED, OVERRIDDEN, OVERRIDDEN])  # staging's shared files never reach promtool
    suites = {s.get("name"): s for s in ElementTree.parse(junit).getroot()}
    staging = [c for c in suites["rulesgen.staging"] if c.get("classname") == "staging.RedisMemoryHigh"]
    assert staging and all("shared with prod" in (c.findtext("system-out") or "") for c in staging)


def test_a_staging_threshold_edited_by_hand_fails_staging_alone(
    out: Path, promtool_files: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    require("promtool")
    _edit_staging_redis(out, "ratio > 0.6", "ratio > 0.9")
    code, report = _test(out, ("RedisMemoryHigh",), capsys)
    assert code == 1
    verdicts = {a["env"]: a for a in report["alerts"]}
    assert verdicts["prod"]["failed"] == [] and verdicts["staging"]["failed"]
    assert verdicts["staging"]["shared_run_with"] is None  # its expression differs: its own run
    assert report["edited_rule_files"] == [f"{out}/staging/prometheus/{RULES}"]


def test_a_wrong_staging_env_label_fails_as_promtool_would(
    out: Path, tmp_path: Path, promtool_files: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The static check fails the scenarios promtool itself fails on staging's file."""
    require("promtool")
    _edit_staging_redis(out, 'env: "staging"', 'env: "prod"')
    code, report = _test(out, ("RedisMemoryHigh",), capsys)
    assert code == 1
    verdicts = {a["env"]: a for a in report["alerts"]}
    assert verdicts["prod"]["failed"] == []
    staging = verdicts["staging"]
    assert staging["shared_run_with"] == "prod" and staging["failed"]
    exp, got = staging["promtool"].split("got:", 1)
    assert 'env="staging"' in exp.split("exp:", 1)[1] and 'env="prod"' in got
    assert not any("staging" in Path(f).parts for f in promtool_files)
    # promtool on staging's own file fails exactly those scenarios
    with tempfile.TemporaryDirectory(dir=tmp_path) as work:
        alone = [p.result for p in _prepared(out, Path(work), ("RedisMemoryHigh",)) if p.result.env == "staging"]
        run_promtool(alone, 1)
    assert not alone[0].ok and alone[0].failed == staging["failed"]


def test_a_failed_shared_run_makes_the_other_environment_run_its_own(
    out: Path, promtool_files: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong prod label fails prod; that run says nothing of what staging gets, so
    staging runs promtool itself, and passes."""
    require("promtool")
    path = out / "prod" / "prometheus" / RULES
    text = path.read_text()
    redis = text.index('  - alert: "RedisMemoryHigh"')
    path.write_text(text[:redis] + text[redis:].replace('env: "prod"', 'env: "production"', 1))
    code, report = _test(out, ("RedisMemoryHigh",), capsys)
    assert code == 1
    verdicts = {a["env"]: a for a in report["alerts"]}
    assert verdicts["prod"]["failed"] and verdicts["staging"]["failed"] == []
    assert verdicts["staging"]["shared_run_with"] is None
    assert any("staging" in Path(f).parts for f in promtool_files)


def _group(*rules: dict[str, Any]) -> list[ClosureGroup]:
    return [ClosureGroup("g", Path("g.yml"), rules)]


def _rule(severity: str, env: str, **labels: str) -> dict[str, Any]:
    return {"alert": "A", "expr": "x > 1", "labels": {"severity": severity, "env": env, **labels}}


def test_no_substitution_when_the_alerts_rules_disagree_on_a_changed_key() -> None:
    """Which of two rules fired decides the label B gets: A's alerts do not say it."""
    prod = _group(_rule("page", "prod"), _rule("ticket", "prod"))
    assert substitution(_group(_rule("page", "staging"), _rule("ticket", "staging")), prod) is not None
    assert substitution(_group(_rule("ticket", "staging"), _rule("page", "staging")), prod) is None


def test_no_substitution_for_a_label_staging_drops_or_an_expression_reading_alerts() -> None:
    """A dropped rule label lets the sample's own label through, and `ALERTS` carries the rule labels."""
    prod = _group(_rule("page", "prod", cluster="eu"))
    assert substitution(_group(_rule("page", "staging")), prod) is None
    assert substitution(_group(_rule("page", "staging", cluster="")), prod) is None  # empty: dropped
    reading = [{**_rule("page", "prod"), "expr": 'count(ALERTS{env="prod"}) > 1'}]
    assert substitution(_group(*reading), _group(*reading)) is None


def test_a_substitution_that_merges_two_expected_alerts_or_a_test_reading_alerts_is_not_judged_statically() -> None:
    prod = _group(_rule("page", "prod"))
    staging = _group(_rule("page", "staging", cluster="s"))
    sub = substitution(staging, prod)
    assert sub is not None

    def doc(*clusters: str, env: str) -> dict[str, Any]:
        exp = [{"exp_labels": {"severity": "page", "env": env, "cluster": c}} for c in clusters]
        return {"tests": [{"name": "t", "alert_rule_test": [{"alertname": "A", "eval_time": "1m", "exp_alerts": exp}]}]}

    follows = check_static(doc("s", env="staging"), doc("a", env="prod"), sub)
    assert follows is not None and follows.failed == []
    wrong = check_static(doc("s", env="prod"), doc("a", env="prod"), sub)
    assert wrong is not None and wrong.failed == ["t"]
    assert check_static(doc("s", "s", env="staging"), doc("a", "b", env="prod"), sub) is None
    reading = doc("s", env="staging")
    reading["tests"][0]["promql_expr_test"] = [{"expr": "count(ALERTS)", "eval_time": "1m", "exp_samples": []}]
    assert check_static(reading, doc("a", env="prod"), sub) is None  # ALERTS carries the rule labels
