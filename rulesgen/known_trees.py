"""What `generate` made of a spec, remembered by content (`rulesgen.cache`), keyed by
the spec's path and text under this version of rulesgen: the SHA-256 of every file it
writes. Whether `output/` is what the spec generates is then a hash comparison: equal
hashes of the same files answer it without compiling; anything else (a spec or
rulesgen never compiled here, a file edited, added or removed) is left to the full
comparison, which also says what differs. Same for the schema files `rulesgen schema`
writes, which depend on rulesgen alone."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeGuard

from rulesgen.cache import Cache, key_of
from rulesgen.writer import MANIFEST, scan_tree, with_manifest

SCHEMA_KEY = key_of("schema files")
SHA256_HEX = 64


def remember_tree(spec: Path | str, spec_sha256: str, files: Mapping[str, bytes]) -> None:
    """`files` (without their manifest) are what the spec at `spec`, whose text has this
    SHA-256, generates."""
    Cache("trees").put(key_of(str(spec), spec_sha256), json.dumps(with_manifest(files).digests()).encode())


def spec_sha256(spec: Path) -> str | None:
    """The SHA-256 of the spec's text as `load_spec` reads it (None: unreadable)."""
    try:
        return hashlib.sha256(spec.read_text(encoding="utf-8").encode()).hexdigest()
    except (OSError, UnicodeDecodeError):
        return None


def known_tree(spec: Path) -> dict[str, str] | None:
    """{path: sha256} of what the spec at `spec` generates, if this rulesgen compiled it."""
    sha = spec_sha256(spec)
    return known_for(spec, sha) if sha is not None else None


def known_for(spec: Path | str, spec_sha256: str) -> dict[str, str] | None:
    """{path: sha256} of what the spec at `spec` whose text has this SHA-256 generates."""
    data = Cache("trees").get(key_of(str(spec), spec_sha256))
    try:
        known = json.loads(data) if data is not None else None
    except ValueError:
        return None
    return known if _is_tree(known) else None


def _is_tree(known: object) -> TypeGuard[dict[str, str]]:
    """Whether an entry is what `remember_tree` writes: `validate` trusts its paths
    without looking at a file, so anything else (a damaged entry) is a miss."""
    return _are_hashes(known) and MANIFEST in known


def _are_hashes(known: object) -> TypeGuard[dict[str, str]]:
    """{path: sha256}, as the entries here are; `schema_current` also trusts an
    entry's paths (a root shipping none of them has nothing to compare)."""
    return isinstance(known, dict) and all(isinstance(sha, str) and len(sha) == SHA256_HEX for sha in known.values())


def tree_matches(root: Path, expected: Mapping[str, str]) -> bool:
    """Whether `root` holds exactly these files with these hashes (and nothing else)."""
    scan = scan_tree(root)
    return not scan.special and scan.files.digests() == dict(expected)


def remember_schema(files: Mapping[str, str]) -> None:
    data = {rel: hashlib.sha256(text.encode()).hexdigest() for rel, text in files.items()}
    Cache("trees").put(SCHEMA_KEY, json.dumps(data).encode())


def schema_current(root: Path) -> bool:
    """Whether the schema files under `root` are known to be current (or `root` ships
    none of them, as `rulesgen check` treats it); False when unknown."""
    data = Cache("trees").get(SCHEMA_KEY)
    try:
        expected = json.loads(data) if data is not None else None
    except ValueError:
        return False
    if not _are_hashes(expected) or not expected:
        return False
    present = [rel for rel in expected if (root / rel).exists()]
    return not present or all(_file_hash(root / rel) == sha for rel, sha in expected.items())


def _file_hash(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    except OSError:
        return None


def environments_of(paths: Iterable[str]) -> list[str]:
    return sorted({path.split("/", 1)[0] for path in paths if "/prometheus/" in path})
