"""`rulesgen test` judges the deployed rules: a hand edit fails its tests, a stale
output/ is refused, and the test artefacts can never be deployed as rules."""

from __future__ import annotations

import json
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml

from conftest import SPEC, require, run_cli
from rulesgen.emit.promtool_tests import unit_test_file
from rulesgen.pipeline import build
from rulesgen.testrun import load_deployed, rule_closure


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `rulesgen generate` writes for the shipped spec, independent of the committed output/."""
    root = tmp_path_factory.mktemp("generated") / "output"
    for rel, data in build(SPEC).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _copy(generated: Path, tmp_path: Path) -> Path:
    out = tmp_path / "output"
    for path in generated.rglob("*"):
        if path.is_file():
            target = out / path.relative_to(generated)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return out


def test_no_test_artefact_matches_a_rule_deploy_glob(generated: Path) -> None:
    tests = [p for p in generated.rglob("*") if p.is_file() and "tests" in p.relative_to(generated).parts]
    assert tests
    for path in tests:
        assert not any(fnmatch(path.name, g) for g in ("*.rules.yml", "*.rules.yaml")), path
        assert "rule_files" not in yaml.safe_load(path.read_text()), path  # filled in at test time


def test_closure_follows_recording_rules_transitively(generated: Path) -> None:
    closure = rule_closure(load_deployed(generated / "prod"), "BillingTransactionFailureRatioHigh")
    names = [rule.get("record") or rule.get("alert") for group in closure for rule in group.rules]
    # the alert reads the ratio, which reads the shared per-status rate: both come along, in deployed order
    assert names.index("network_status:billing_transactions:rate5m") < names.index(
        "network:billing_transactions_failure:ratio_rate5m"
    )
    assert names[-1] == "BillingTransactionFailureRatioHigh"
    assert not any(str(n).startswith("status:") for n in names)  # nothing the alert does not read


def test_a_hand_edited_deployed_threshold_fails_its_tests(generated: Path, tmp_path: Path) -> None:
    require("promtool")
    out = _copy(generated, tmp_path)
    rules = out / "prod" / "prometheus" / "billing.rules.yml"
    text = rules.read_text()
    assert text.count('(billing_transactions_network_pending_total) > 20"') == 1
    rules.write_text(
        text.replace(
            '(billing_transactions_network_pending_total) > 20"', '(billing_transactions_network_pending_total) > 2000"'
        )
    )
    result = run_cli("test", "--output", str(out), "--env", "prod", "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    failed = [a for a in report["alerts"] if a["failed"]]
    assert [a["alert"] for a in failed] == ["BillingPendingBacklog"]
    assert "exp:" in failed[0]["promtool"] and "got:[]" in failed[0]["promtool"]
    assert report["edited_rule_files"] == [f"{out}/prod/prometheus/billing.rules.yml"]
    text_result = run_cli("test", "--output", str(out), "--env", "prod")
    assert text_result.returncode == 1
    assert "prod/BillingPendingBacklog failed" in text_result.stdout
    assert "differs from what `rulesgen generate` writes" in text_result.stdout


def test_the_unedited_copy_passes(generated: Path, tmp_path: Path) -> None:
    """Control for the hand-edit test: the same tree, unedited, passes."""
    require("promtool")
    result = run_cli("test", "--output", str(_copy(generated, tmp_path)), "--env", "prod", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["edited_rule_files"] == []
    assert all(r["expected"] == r["actual"] for r in report["routes"])


def test_a_stale_output_is_refused(generated: Path, tmp_path: Path) -> None:
    require("promtool")
    out = _copy(generated, tmp_path)
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
    ],
)
def test_bad_arguments_exit_2(generated: Path, args: list[str], message: str) -> None:
    result = run_cli("test", "--output", str(generated), *args)
    assert result.returncode == 2
    assert message in result.stderr
    if args[0] == "--env":
        assert "prod, staging" in result.stderr  # the known environments
