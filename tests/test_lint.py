"""`rulesgen lint`: every check listed, the shipped spec clean, environment overrides
checked like the original with the override's line and the environment's name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SPEC, minimal_text, run_cli
from rulesgen.lint import registry

OVERRIDE = """      BillingPendingBacklog:
        threshold: 50
"""


def test_list_prints_every_check() -> None:
    result = run_cli("lint", "--list")
    assert result.returncode == 0
    for code, check in registry().items():
        assert f"{code}  {check.severity}" in result.stdout
        assert check.doc, f"{code} has no docstring"


def test_shipped_spec_is_clean() -> None:
    result = run_cli("lint", "--strict", "--format", "json")
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["diagnostics"] == []


def _override(tmp_path: Path, lines: str) -> Path:
    text = SPEC.read_text()
    assert OVERRIDE in text
    spec = tmp_path / "spec.yaml"
    spec.write_text(text.replace(OVERRIDE, OVERRIDE + lines))
    return spec


@pytest.mark.parametrize(
    ("lines", "code", "needle"),
    [
        ('        team: "biling"\n', "RG102", "unknown team 'biling'"),
        ('        severity: "page"\n', "RG103", "unknown severity 'page'"),
        ('        metric: "billing_pending"\n', "RG104", "unknown metric 'billing_pending'"),
        ('        by: ["chain"]\n', "RG106", "cannot group by 'chain'"),
        ('        matchers: {chain: "x"}\n', "RG106", "has no label 'chain'"),
    ],
)
def test_an_override_to_an_undeclared_value_is_an_error_at_its_line(
    tmp_path: Path, lines: str, code: str, needle: str
) -> None:
    spec = _override(tmp_path, lines)
    line = spec.read_text().splitlines().index(lines.rstrip("\n")) + 1
    result = run_cli("lint", "--spec", str(spec), "--format", "json")
    assert result.returncode == 2, result.stdout
    found = [d for d in json.loads(result.stdout)["diagnostics"] if d["code"] == code]
    assert found, result.stdout
    assert found[0]["line"] == line and found[0]["env"] == "staging" and needle in found[0]["message"]
    generate = run_cli("validate", "--spec", str(spec))
    assert generate.returncode == 2 and f"spec.yaml:{line}:" in generate.stderr and "[staging]" in generate.stderr


def test_warnings_exit_zero_unless_strict_and_can_be_disabled(tmp_path: Path) -> None:
    spec = _override(tmp_path, '        for: "30s"\n')
    assert run_cli("lint", "--spec", str(spec)).returncode == 0
    strict = run_cli("lint", "--spec", str(spec), "--strict", "--format", "github")
    assert strict.returncode == 1
    assert "::warning file=" in strict.stdout and "title=RG203::" in strict.stdout
    disabled = spec.read_text().replace(
        "alerts:\n", 'lint:\n  disable:\n    - {check: "RG203", reason: "staging evaluates fast"}\n\nalerts:\n', 1
    )
    spec.write_text(disabled)
    assert run_cli("lint", "--spec", str(spec), "--strict").returncode == 0


def test_an_error_cannot_be_disabled(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        SPEC.read_text().replace("alerts:\n", 'lint:\n  disable:\n    - {check: "RG102", reason: "no"}\n\nalerts:\n', 1)
    )
    result = run_cli("lint", "--spec", str(spec))
    assert result.returncode == 2 and "RG130" in result.stdout and "cannot be disabled" in result.stdout


def test_explain_prints_every_section() -> None:
    result = run_cli("explain", "BillingMainnetNetworkFailures", "--env", "prod")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "fires when: events of billing_transactions_network_failed_total" in out
    # Counting: births guarded per scrape target, exact differences without a reset.
    assert "expanded: (sum by (network) (((billing_transactions_network_failed_total" in out
    assert "and on (job, instance) (up offset 5m == 1)" in out
    assert "routes to: billing-pager" in out
    assert "mutes: " in out and "a failing mainnet explains its failure ratio" in out
    assert "viewPanel=" in out and "generated tests: healthy" in out and "thresholds.yaml:" in out
    data = json.loads(run_cli("explain", "BillingMainnetNetworkFailures", "--format", "json").stdout)
    assert set(data["environments"]) == {"prod", "staging"}
    assert run_cli("explain", "BillingMainnetNetworkFailure").returncode == 2


def test_a_matcher_in_a_later_denominator_part_is_located_at_its_own_key(tmp_path: Path) -> None:
    part = '      - {metric: "redis_keyspace_misses_total"}'
    spec = tmp_path / "spec.yaml"
    text = SPEC.read_text()
    assert part in text
    spec.write_text(text.replace(part, '      - {metric: "redis_keyspace_misses_total", matchers: {shard: "a"}}'))
    result = run_cli("lint", "--spec", str(spec), "--format", "json")
    (found,) = [d for d in json.loads(result.stdout)["diagnostics"] if d["code"] == "RG106"]
    line = spec.read_text().splitlines().index(part.replace('"}', '", matchers: {shard: "a"}}')) + 1
    assert found["path"].endswith("denominator[1].matchers.shard") and found["line"] == line


def test_lint_runs_test_generation_rg004(tmp_path: Path) -> None:
    """A spec `validate` rejects because no test can be generated fails `lint` too."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(minimal_text().replace('window: "5m"\n    threshold: 5', 'window: "10000w"\n    threshold: 5', 1))
    assert run_cli("validate", "--spec", str(spec)).returncode == 2
    result = run_cli("lint", "--spec", str(spec))
    assert result.returncode == 2
    assert f"{spec}:25:5: error RG004 cannot generate tests: a test scenario would need" in result.stdout


def test_a_clean_lint_says_so_in_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(minimal_text())
    result = run_cli("lint", "--spec", str(spec))
    assert result.returncode == 0
    assert result.stdout == f"{spec}: {len(registry())} checks, no errors, no warnings\n"


def test_a_paging_alert_no_absence_guard_watches_is_a_warning_at_its_metric(tmp_path: Path) -> None:
    """BillingMainnetNetworkFailures reads a metric not declared always_present: without
    its suppression, RG211 points at its `metric`."""
    text = SPEC.read_text()
    suppression = text[text.index('    lint_disable:\n      - check: "RG211"') :]
    suppression = suppression[: suppression.index("\n", suppression.index("reason:")) + 1]
    spec = tmp_path / "spec.yaml"
    spec.write_text(text.replace(suppression, ""))
    result = run_cli("lint", "--strict", "--spec", str(spec), "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    (found,) = [d for d in json.loads(result.stdout)["diagnostics"] if d["code"] == "RG211"]
    lines = spec.read_text().splitlines()
    line = lines.index('    metric: "billing_transactions_network_failed_total"') + 1
    assert (found["line"], found["column"]) == (line, 13) and "no absence guard watches" in found["message"]
