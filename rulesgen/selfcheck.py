"""`generate` asks the real tools before it writes: `promtool check rules` on every
Prometheus rule file and `amtool check-config` on every Alertmanager configuration,
when those tools are on PATH, so no command says ok about output a real tool refuses.

The files are checked in a temporary tree before `output/` is touched: a refusal
leaves `output/` exactly as it was."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from rulesgen import children
from rulesgen.cache import Cache, key_of, tool_identity
from rulesgen.filetree import digest_of

if TYPE_CHECKING:
    from rulesgen.targets import Files

TIMEOUT = 120.0


@dataclass(frozen=True)
class Checker:
    tool: str
    args: tuple[str, ...]
    directory: str  # `<env>/<directory>/` holds the files it checks
    suffixes: tuple[str, ...]


CHECKERS = (
    Checker("promtool", ("check", "rules"), "prometheus", (".yml", ".yaml")),
    Checker("amtool", ("check-config",), "alertmanager", ("alertmanager.yml",)),
)


@dataclass(frozen=True)
class SelfCheck:
    checked: tuple[str, ...]  # the tools that ran
    skipped: tuple[str, ...]  # the tools not on PATH
    failures: tuple[str, ...]  # each refusal, in the tool's words


def _selected(paths: Iterable[str], checker: Checker) -> Iterator[str]:
    for rel in paths:
        parts = PurePosixPath(rel).parts
        if len(parts) == 3 and parts[1] == checker.directory and rel.endswith(checker.suffixes):
            yield rel


def self_check(files: Files, timeout: float = TIMEOUT) -> SelfCheck:
    """Run each checker on its files, written to a temporary tree."""
    checked: list[str] = []
    skipped: list[str] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="rulesgen-selfcheck-") as tmp:
        for checker in CHECKERS:
            selected = sorted(_selected(files, checker))
            if not selected:
                continue
            executable = shutil.which(checker.tool)
            if executable is None:
                skipped.append(checker.tool)
                continue
            checked.append(checker.tool)
            for rel in selected:
                path = Path(tmp, rel)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(files[rel])
            failures.extend(_run(executable, checker, Path(tmp), selected, timeout))
    return SelfCheck(tuple(checked), tuple(skipped), tuple(failures))


def _run(executable: str, checker: Checker, root: Path, selected: list[str], timeout: float) -> Iterator[str]:
    """One run per file: a file's verdict is then its own, whatever the tool prints."""
    what = f"{checker.tool} {' '.join(checker.args)}"
    for rel in selected:
        proc = children.run([executable, *checker.args, rel], timeout, cwd=root)
        if proc.timed_out:
            yield f"{rel}: {what} did not finish within {timeout:g}s"
        elif proc.returncode != 0 or not children.said_success(proc.output):
            yield f"{rel}: {what} refused it (exit {proc.returncode}): {proc.output or '(no output)'}"


# What `generate` remembers of a self-check that passed (`rulesgen.cache`): the files
# the tools judged, by their hashes, and the tools. Run again on the same files with the
# same tools, the verdict is the same, and `generate` may skip it.


def _pass_key(hashes: Mapping[str, str]) -> str | None:
    """The key of a pass of the files (path -> sha256 of every generated file; only
    those a checker reads count) by the tools on PATH now; None when a tool does not
    say its version (nothing is remembered for it)."""
    parts = []
    for checker in CHECKERS:
        found = shutil.which(checker.tool)
        identity = tool_identity(found) if found else "-"
        if not identity:
            return None
        parts.append(f"{checker.tool}={identity}")
        parts.extend(f"{rel}={hashes[rel]}" for rel in sorted(_selected(hashes, checker)))
    return key_of("self-check", *parts)


def remember_passed(files: Files) -> None:
    store = Cache("trees")
    if not store.enabled:
        return  # no cache (CI): asking each tool its version would be for nothing
    checked = {rel: digest_of(files, rel) for c in CHECKERS for rel in _selected(files, c)}
    if (key := _pass_key(checked)) is not None:
        store.put(key, b"passed")


def passed_before(hashes: Mapping[str, str]) -> bool:
    key = _pass_key(hashes)
    return key is not None and Cache("trees").get(key) == b"passed"
