"""One fixture folder per alert kind: a spec in, the expected rules and generated tests
out. A failure prints the diff; `UPDATE_FIXTURES=1 pytest tests/test_kind_fixtures.py`
rewrites the expected files after a deliberate change, to review in the diff."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from conftest import require, run_cli
from rulesgen.kinds import registry
from rulesgen.pipeline import build_text

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kinds"
KINDS = sorted(p.name for p in FIXTURES.iterdir() if (p / "spec.yaml").is_file())


def test_every_kind_has_a_fixture() -> None:
    assert sorted(registry()) == KINDS


def _expected_files(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The kind's own artefacts: rule files and generated tests of the prod environment."""
    return {p: c for p, c in files.items() if p.startswith(("prod/prometheus/", "prod/tests/"))}


@pytest.mark.parametrize("kind", KINDS)
def test_fixture_compiles_to_its_expected_rules(kind: str) -> None:
    folder = FIXTURES / kind
    files = _expected_files(build_text((folder / "spec.yaml").read_text(), "spec.yaml"))
    expected = folder / "expected"
    if os.environ.get("UPDATE_FIXTURES"):
        for stale in [p for p in expected.rglob("*") if p.is_file() and str(p.relative_to(expected)) not in files]:
            stale.unlink()
        for path, content in files.items():
            (expected / path).parent.mkdir(parents=True, exist_ok=True)
            (expected / path).write_bytes(content)
    have = {str(p.relative_to(expected)): p.read_bytes() for p in expected.rglob("*") if p.is_file()}
    assert sorted(have) == sorted(files), "run UPDATE_FIXTURES=1 pytest tests/test_kind_fixtures.py"
    for path, content in files.items():
        diff = "".join(
            difflib.unified_diff(
                have[path].decode().splitlines(True), content.decode().splitlines(True), f"expected/{path}", path
            )
        )
        assert not diff, diff + "\nrun UPDATE_FIXTURES=1 pytest tests/test_kind_fixtures.py if the change is meant"


@pytest.mark.parametrize("kind", KINDS)
def test_fixture_tests_pass_under_promtool(kind: str, tmp_path: Path) -> None:
    require("promtool")
    spec = tmp_path / "spec.yaml"
    spec.write_text((FIXTURES / kind / "spec.yaml").read_text())
    out = tmp_path / "out"
    assert run_cli("generate", "--spec", str(spec), "--output", str(out)).returncode == 0
    result = run_cli("test", "--spec", str(spec), "--output", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
