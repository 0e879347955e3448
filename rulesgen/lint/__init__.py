"""The lint registry: every check rulesgen makes, one module each under `lint/checks`,
with a stable ID, a severity, a title and a docstring that explains it.

Checks run at three stages: on the parsed document, on each environment's alerts after
its overrides (so an override is checked like the original and the message points at
the override's line), and on each environment's compiled IR. A few checks are made by
the stage that needs their answer to go on (parsing, overrides, templates, test
generation); they are registered here too, so every ID is listed and documented.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from rulesgen.errors import Path

ERROR, WARNING = "error", "warning"
DOCUMENT, ENVIRONMENT, PROGRAM, BUILTIN = "document", "environment", "program", "builtin"


@dataclass(frozen=True)
class Finding:
    """What a check reports: where (a spec path), what, and in which environment when
    the value comes from that environment's override."""

    path: Path
    message: str
    hint: str = ""
    env: str | None = None
    key: bool = False  # point at the mapping key rather than its value
    alert: str | None = None  # the alert it concerns, for per-alert suppressions


@dataclass(frozen=True)
class Check:
    code: str
    name: str
    severity: str
    title: str
    stage: str
    run: Callable[[Any], Iterable[Finding]] | None = None
    doc: str = ""


def check(
    code: str, name: str, severity: str, title: str, stage: str
) -> Callable[[Callable[[Any], Iterable[Finding]]], Check]:
    """Decorator: `CHECK = check("RG101", ...)(function)` in a module of `lint/checks`."""

    def wrap(run: Callable[[Any], Iterable[Finding]]) -> Check:
        return Check(code, name, severity, title, stage, run)

    return wrap


def builtin(code: str, name: str, severity: str, title: str) -> Check:
    """A check a compiler stage makes itself; registered for its ID and documentation."""
    return Check(code, name, severity, title, BUILTIN)


@cache
def registry() -> dict[str, Check]:
    """Check ID -> check, from the modules of `rulesgen.lint.checks` (docstring: the module's)."""
    from rulesgen.lint import checks

    out: dict[str, Check] = {}
    for info in sorted(pkgutil.iter_modules(checks.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{checks.__name__}.{info.name}")
        found: Check = module.CHECK
        if found.code in out:
            raise RuntimeError(f"two checks share {found.code}")
        out[found.code] = Check(**{**found.__dict__, "doc": (module.__doc__ or "").strip()})
    return dict(sorted(out.items()))


def by_stage(stage: str) -> list[Check]:
    return [c for c in registry().values() if c.stage == stage]
