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
class Diagnostic:
    """One problem in the spec, located in its source file: an error stops the
    compile, a warning does not. `code` is the lint check's stable ID."""

    file: str
    line: int
    column: int
    path: str
    message: str
    code: str = "RG001"
    severity: str = "error"
    hint: str = ""
    env: str | None = None
    end_line: int = 0
    end_column: int = 0

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        env = f" [{self.env}]" if self.env else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}{self.hint}{env}"

    def lint_line(self) -> str:
        """`file:line:col: warning RG203 [env] message`, as compilers print."""
        env = f"[{self.env}] " if self.env else ""
        return f"{self.file}:{self.line}:{self.column}: {self.severity} {self.code} {env}{self.message}{self.hint}"

    def as_dict(self) -> dict[str, str | int | None]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line or self.line,
            "end_column": self.end_column or self.column,
            "path": self.path,
            "message": self.message,
            "code": self.code,
            "severity": self.severity,
            "hint": self.hint.removeprefix("; "),
            "env": self.env,
        }


# Parse errors predate the lint registry's richer fields; they are diagnostics too.
SpecError = Diagnostic


class SpecErrors(Exception):
    """All the problems found in one pass, reported together (exit code 2)."""

    def __init__(self, errors: Iterable[Diagnostic]) -> None:
        # Sorted by position so the report reads top to bottom like the file.
        self.errors: Sequence[Diagnostic] = sorted(set(errors))
        super().__init__("\n".join(str(e) for e in self.errors))


class ToolMissing(Exception):
    """An external verifier (promtool, amtool) is not installed."""

    def __init__(self, tool: str, package: str) -> None:
        self.tool = tool
        self.package = package
        super().__init__(
            f"{tool} not found on PATH: install it with `apt-get install -y {package}` (or run `make test`)"
        )
