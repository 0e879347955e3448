"""The CLI contract CI relies on: help that lists every command with examples and exit
codes, JSON on every path, and a closed pipe that ends quietly."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import MINIMAL, ROOT, SPEC, run_cli
from rulesgen.cli import parser


def test_help_lists_every_command_with_examples_and_exit_codes() -> None:
    out = run_cli("--help").stdout
    action = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    commands = list(action.choices)
    for command in commands:
        assert command in out
    assert "examples:" in out and "exit codes:" in out and "2 bad input" in out


def test_a_closed_pipe_ends_quietly() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = f"{sys.executable} -m rulesgen explain BillingPendingBacklog | true; echo ${{PIPESTATUS[0]}}"
    proc = subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert proc.stdout.strip() == "141"
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_missing_tool_is_json_too(tmp_path: Path) -> None:
    result = run_cli("test", "--format", "json", env={"PATH": str(tmp_path)})
    assert result.returncode == 2
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and "promtool" in payload["error"]


def test_generate_json_lists_changed_files_and_check_json_carries_the_diff(tmp_path: Path) -> None:
    spec = tmp_path / "spec" / "thresholds.yaml"
    spec.parent.mkdir()
    shutil.copy(SPEC, spec)
    out = tmp_path / "out"
    first = json.loads(run_cli("generate", "--spec", str(spec), "--output", str(out), "--format", "json").stdout)
    assert first["ok"] and first["changed_files"] and len(first["changed_files"]) == first["changed"]
    anchor = "billing.contracts worker.\n    threshold: 20\n"
    spec.write_text(spec.read_text().replace(anchor, anchor.replace("20", "30")))
    check = run_cli("check", "--spec", str(spec), "--output", str(out), "--format", "json")
    assert check.returncode == 1
    payload = json.loads(check.stdout)
    assert payload["ok"] is False and "prod/prometheus/billing.rules.yml" in payload["changed"]
    assert "> 30" in payload["diff"]
    again = json.loads(run_cli("generate", "--spec", str(spec), "--output", str(out), "--format", "json").stdout)
    assert "prod/prometheus/billing.rules.yml" in again["changed_files"]


def test_an_untestable_alert_is_bad_input_even_with_promtool_tests_disabled(tmp_path: Path) -> None:
    """No target reads the generated tests then, yet `generate` and `validate` refuse the
    spec as `lint` does (RG004 at the alert), and output/ is left as it was."""
    spec = tmp_path / "spec" / "thresholds.yaml"
    spec.parent.mkdir()
    text = MINIMAL.read_text() + "targets:\n  promtool_tests: {enabled: false}\n"
    spec.write_text(text)
    out = tmp_path / "out"
    assert run_cli("generate", "--spec", str(spec), "--output", str(out), "--no-self-check").returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    spec.write_text(text.replace('window: "5m"', 'window: "10000w"'))
    for command in ("generate", "validate", "lint"):
        args = [command, "--spec", str(spec)] + (["--output", str(out)] if command == "generate" else [])
        result = run_cli(*args)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert (
            f"{spec}:25:" in result.stdout + result.stderr and "cannot generate tests" in result.stdout + result.stderr
        )
        assert "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
