"""rulesgen's cache on disk (`rulesgen/cache.py`): a write that fails leaves nothing
behind, and a cache that cannot be written is no error."""

from __future__ import annotations

from pathlib import Path

import pytest

from rulesgen.cache import Cache, key_of


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
