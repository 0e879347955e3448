"""Validation as strict as the tools that read the output: what Alertmanager, promtool
or Kubernetes would refuse is a spec error with its line and column, not a file that
fails at deploy time."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import minimal_text, run_cli
from rulesgen.errors import SpecErrors
from rulesgen.pipeline import build_text

LONG = "p" * 300

# (id, text in the minimal spec, replacement, expected errors)
CASES: list[tuple[str, str, str, list[str]]] = [
    (
        "zero repeat_interval (amtool: repeat_interval cannot be zero)",
        "  critical: {}",
        '  critical: {repeat_interval: "0s"}',
        ["spec.yaml:10:31: severities.critical.repeat_interval: 0s must be longer than 0s"],
    ),
    (
        "zero group_interval",
        "  warning: {}",
        '  warning: {group_interval: "0s"}',
        ["spec.yaml:11:29: severities.warning.group_interval: 0s must be longer than 0s"],
    ),
    (
        "a group_by label Alertmanager refuses",
        "alerts:\n",
        'alertmanager: {group_by: ["alert-name"]}\nalerts:\n',
        [
            "spec.yaml:24:27: alertmanager.group_by[0]: 'alert-name' is not a valid label name "
            "(must match ^[a-zA-Z_][a-zA-Z0-9_]*$)"
        ],
    ),
    (
        "an environment name too long for the names derived from it",
        "  prod: {}",
        f"  {LONG}: {{}}",
        [
            f"spec.yaml:6:3: environments.{LONG}: 'pppppppppppppppppppp'... is 300 characters; names are at "
            "most 63 (they become directories, file names and Kubernetes object names)"
        ],
    ),
    (
        "alert names that differ only in case",
        '  - name: "TxRatio"',
        '  - name: "TXFailing"',
        ["spec.yaml:36:11: alerts[1].name: alert name 'TXFailing' differs from 'TxFailing' (line 25) only in case"],
    ),
    (
        "two teams that give one Kubernetes object name",
        "  billing: {}",
        "  billing: {}\n  billing_ops: {}\n  billing-ops: {}",
        [
            "spec.yaml:10:3: teams.billing-ops: environment 'prod' and team 'billing-ops' give the Kubernetes "
            "name 'rulesgen-prod-billing-ops', as environment 'prod' and team 'billing_ops' do"
        ],
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_like_the_real_tool(old: str, new: str, expected: list[str]) -> None:
    text = minimal_text()
    assert old in text, "test case no longer matches the minimal spec"
    with pytest.raises(SpecErrors) as err:
        build_text(text.replace(old, new, 1), "spec.yaml", tests=False)
    assert [str(e) for e in err.value.errors] == expected


def test_a_long_environment_name_is_exit_2_without_a_traceback(tmp_path: Path) -> None:
    spec = tmp_path / "thresholds.yaml"
    spec.write_text(minimal_text().replace("  prod: {}", f"  {LONG}: {{}}"))
    result = run_cli("generate", "--spec", str(spec), "--output", str(tmp_path / "output"))
    assert (result.returncode, "Traceback" in result.stderr) == (2, False)
    assert "is 300 characters; names are at most 63" in result.stderr
    assert not (tmp_path / "output").exists()
