"""rulesgen's cache on disk (`rulesgen/cache.py`): a write that fails leaves nothing
behind, and a cache that cannot be written is no error; a remembered promtool pass
is keyed by what promtool says it is (`verify/verdicts.py`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import minimal_text
from rulesgen.cache import Cache, key_of
from rulesgen.conventions import TEST_SUFFIX
from rulesgen.pipeline import build_text
from rulesgen.verify.deployed import load_groups
from rulesgen.verify.suite import _prepare
from rulesgen.verify.verdicts import promtool_identity, verdict_key


def test_a_write_that_fails_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RULESGEN_CACHE_DIR", str(tmp_path))
    store = Cache("plans")
    key = key_of("a key")
    store.put(key_of("another"), b"kept")
    assert store.dir is not None
    (store.dir / key).mkdir()  # the rename onto the entry fails: it is a directory
    store.put(key, b"data")
    assert sorted(p.name for p in store.dir.iterdir()) == sorted([key, key_of("another")])
    assert store.get(key) is None and store.get(key_of("another")) == b"kept"


def test_a_cache_directory_that_is_a_file_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cache").write_text("not a directory")
    monkeypatch.setenv("RULESGEN_CACHE_DIR", str(tmp_path / "cache"))
    store = Cache("plans")
    store.put(key_of("a key"), b"data")
    assert store.get(key_of("a key")) is None
    assert (tmp_path / "cache").read_text() == "not a directory"


def shim(at: Path, version: str) -> str:
    """A version manager's shim (asdf, mise) or wrapper script: the same file whatever
    promtool it runs, here the one `selected` names."""
    (at / "selected").write_text(version)
    path = at / "promtool"
    if not path.exists():
        path.write_text(f'#!/bin/sh\necho "promtool, version $(cat {at / "selected"})"\n')
        path.chmod(0o755)
    return str(path)


def test_a_promtool_behind_a_shim_is_another_promtool_after_an_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass remembered under one promtool must not answer for the next one, even when
    the file on PATH did not change."""
    monkeypatch.setenv("RULESGEN_CACHE_DIR", str(tmp_path / "cache"))
    before = promtool_identity(shim(tmp_path, "2.55.1"), 10)
    after = promtool_identity(shim(tmp_path, "3.1.0"), 10)
    assert before and after and before != after


@pytest.mark.parametrize("body", ["exit 3", "exit 0", "exec sleep 5"])
def test_a_promtool_that_cannot_say_its_version_has_nothing_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    monkeypatch.setenv("RULESGEN_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "promtool"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    assert promtool_identity(str(path), 0.5) == ""


def test_no_cache_no_version_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a cache nothing is remembered, and promtool is not run for its version."""
    monkeypatch.setenv("RULESGEN_CACHE_DIR", "off")
    asked = tmp_path / "asked"
    path = tmp_path / "promtool"
    path.write_text(f"#!/bin/sh\ntouch {asked}\necho promtool, version 3.1.0\n")
    path.chmod(0o755)
    assert promtool_identity(str(path), 10) == ""
    assert not asked.exists()


def test_a_pass_is_keyed_by_the_test_text_promtool_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test file edited while `rulesgen test` reads it: the key is of the text the run
    file was made from, never of a text promtool did not judge."""
    output = tmp_path / "output"
    for rel, data in build_text(minimal_text()).items():
        (output / rel).parent.mkdir(parents=True, exist_ok=True)
        (output / rel).write_bytes(data)
    path = next((output / "prod" / "tests").glob(f"*{TEST_SUFFIX}"))
    judged = path.read_bytes()
    edited = judged.replace(b"exp_alerts: []", b"exp_alerts: [{exp_labels: {}}]", 1)
    assert edited != judged
    real = Path.read_bytes

    def read_then_edited(self: Path) -> bytes:
        data = real(self)
        if self == path:
            path.write_bytes(edited)  # the edit lands just after this read
        return data

    monkeypatch.setattr(Path, "read_bytes", read_then_edited)
    (tmp_path / "work").mkdir()
    prepared = _prepare("prod", path, load_groups(output / "prod"), tmp_path / "work", "promtool")
    assert prepared.result.run_file is not None
    run = json.loads(prepared.result.run_file.read_text())
    rules = Path(run["rule_files"][0]).read_text().encode()
    ran = judged if run["tests"] == yaml.safe_load(judged)["tests"] else edited
    assert prepared.verdict == verdict_key("promtool", rules, ran)


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757])
def test_a_cache_others_can_write_into_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int) -> None:
    """Whoever can write into the cache could plant a remembered pass: such a directory
    is neither read nor written (a private one, and one made by rulesgen, are)."""
    writable = tmp_path / "group-writable"
    writable.mkdir()
    monkeypatch.setenv("RULESGEN_CACHE_DIR", str(writable))
    Cache("verdicts").put(key_of("planted"), b"passed")
    writable.chmod(mode)
    store = Cache("verdicts")
    assert store.dir is None and store.get(key_of("planted")) is None
    store.put(key_of("mine"), b"passed")
    writable.chmod(0o700)
    assert Cache("verdicts").get(key_of("planted")) == b"passed" and Cache("verdicts").get(key_of("mine")) is None
    made = tmp_path / "made" / "by" / "rulesgen"
    monkeypatch.setenv("RULESGEN_CACHE_DIR", str(made))
    Cache("plans").put(key_of("a key"), b"data")
    assert made.stat().st_mode & 0o777 == 0o700 and Cache("plans").get(key_of("a key")) == b"data"
