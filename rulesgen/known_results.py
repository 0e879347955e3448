"""What `lint` and `explain` printed for a spec, remembered by content
(`rulesgen.cache`): keyed by the command and its arguments, the spec's path and the
SHA-256 of its text, under this version of rulesgen. Run again on the same spec, they
print it again and compile nothing."""

from __future__ import annotations

from pathlib import Path

from rulesgen.cache import Cache, key_of
from rulesgen.known_trees import spec_sha256


def remember_result(what: str, spec: Path | str, spec_sha: str, data: bytes) -> None:
    """What a command (`what`: its name and arguments) printed for this spec."""
    Cache("results").put(key_of(what, str(spec), spec_sha), data)


def known_result(what: str, spec: Path) -> bytes | None:
    sha = spec_sha256(spec)
    return Cache("results").get(key_of(what, str(spec), sha)) if sha is not None else None
