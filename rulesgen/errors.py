"""Error objects that carry the source position, so every stage reports `file:line:col: path: message`."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PathPart = str | int
Path = tuple[PathPart, ...]


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """`; did you mean 'threshold'?` for the closest choice, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return f"; did you mean {close[0]!r}?" if close else ""


def render_path(path: Path) -> str:
    """`("alerts", 3, "threshold")` -> `alerts[3].threshold`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass(frozen=True, order=True)
class SpecError:
    """One problem in the spec, located in its source file."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"

    def as_dict(self) -> dict[str, str | int]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


class SpecErrors(Exception):
    """All the problems found in one pass, reported together (exit code 2)."""

    def __init__(self, errors: Iterable[SpecError]) -> None:
        # Sorted by position so the report reads top to bottom like the file.
        self.errors: Sequence[SpecError] = sorted(set(errors))
        super().__init__("\n".join(str(e) for e in self.errors))


class ToolMissing(Exception):
    """An external verifier (promtool, amtool) is not installed."""

    def __init__(self, tool: str, package: str) -> None:
        self.tool = tool
        self.package = package
        super().__init__(
            f"{tool} not found on PATH: install it with `apt-get install -y {package}` (or run `make test`)"
        )
