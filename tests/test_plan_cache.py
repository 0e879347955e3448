"""Plans kept on disk by content (`testgen/plancache.py`): a warm cache changes no
output and plans nothing; a changed alert is planned again, and only it; an entry that
does not decode is planned again; `RULESGEN_CACHE_DIR=off` writes nothing."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import SPEC
from rulesgen.pipeline import build_text
from rulesgen.testgen import generate
from rulesgen.testgen.plancache import decode, encode
from rulesgen.testgen.planner import plan_scenarios

Files = dict[str, bytes]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("RULESGEN_CACHE_DIR", str(root))
    return root


def counting_planner(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Alerts planned from here on (by name), planning them as before."""
    planned: list[str] = []
    real: Callable[..., Any] = plan_scenarios

    def plan(model: Any, *args: Any) -> Any:
        planned.append(model.name)
        return real(model, *args)

    monkeypatch.setattr(generate, "plan_scenarios", plan)
    return planned


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("plans/*/*"))


def test_a_warm_cache_plans_nothing_and_changes_no_byte(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cold = build_text(SPEC.read_text())
    assert entries(cache), "nothing was cached"
    planned = counting_planner(monkeypatch)
    assert build_text(SPEC.read_text()) == cold
    assert planned == []


def test_a_changed_threshold_plans_that_alert_again_and_only_it(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = SPEC.read_text()
    build_text(text)
    override = "      BillingPendingBacklog:\n        threshold: 50\n"
    assert text.count(override) == 1
    changed = text.replace(override, override.replace("50", "60"))
    planned = counting_planner(monkeypatch)
    files = build_text(changed)
    assert planned == ["BillingPendingBacklog"]
    monkeypatch.setenv("RULESGEN_CACHE_DIR", "off")
    assert files == build_text(changed)  # what it planned again is what planning without a cache gives


def test_an_entry_that_does_not_decode_is_planned_again(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cold = build_text(SPEC.read_text())
    damaged = entries(cache)
    for i, entry in enumerate(damaged):
        entry.write_bytes([b"", b"not zlib", entry.read_bytes()[:-7]][i % 3])
    planned = counting_planner(monkeypatch)
    assert build_text(SPEC.read_text()) == cold
    assert len(planned) == len(damaged)


def test_an_entry_with_a_series_cut_short_is_planned_again(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs are stored three numbers each: a series missing one (a hand-edited or
    damaged entry that still decodes as JSON) is a miss, never a series cut short."""
    cold = build_text(SPEC.read_text())
    damaged = entries(cache)
    for entry in damaged:
        plans = json.loads(zlib.decompress(entry.read_bytes()))
        runs = next(s[2] for p in plans for s in p[4] if s[2])
        del runs[-1]
        entry.write_bytes(zlib.compress(json.dumps(plans).encode()))
    planned = counting_planner(monkeypatch)
    assert build_text(SPEC.read_text()) == cold
    assert len(planned) == len(damaged)


def test_off_writes_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RULESGEN_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    build_text(SPEC.read_text())
    assert list(tmp_path.iterdir()) == []


def test_entries_round_trip_exactly(cache: Path) -> None:
    """NaN (staleness markers), -0.0, infinities and ints survive JSON unchanged."""
    build_text(SPEC.read_text())
    for entry in entries(cache):
        data = json.loads(zlib.decompress(entry.read_bytes()))
        again = json.dumps(encode(decode(data)))
        assert again == json.dumps(data)
    text = " ".join(zlib.decompress(e.read_bytes()).decode() for e in entries(cache))
    assert "NaN" in text, "no plan of the shipped spec holds a failed scrape"


@pytest.mark.parametrize(("ci", "cached"), [("true", False), ("1", False), ("false", True), ("", True)])
def test_ci_caches_nothing_unless_told_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ci: str, cached: bool
) -> None:
    """A cache restored from another job must not answer for this one: with `CI` set,
    only an explicit RULESGEN_CACHE_DIR caches."""
    monkeypatch.delenv("RULESGEN_CACHE_DIR")
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    build_text(SPEC.read_text())
    assert bool(entries(tmp_path / "xdg" / "rulesgen")) == cached
    monkeypatch.setenv("RULESGEN_CACHE_DIR", str(tmp_path / "told"))
    build_text(SPEC.read_text())
    assert entries(tmp_path / "told")
