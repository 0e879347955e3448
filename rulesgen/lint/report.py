"""Lint output: compiler-style text, JSON, and GitHub workflow annotations."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from rulesgen.errors import Diagnostic
from rulesgen.lint import Check


def render_diagnostics(diagnostics: Sequence[Diagnostic], fmt: str) -> str:
    if fmt == "json":
        errors = sum(d.is_error for d in diagnostics)
        payload = {
            "ok": errors == 0,
            "errors": errors,
            "warnings": len(diagnostics) - errors,
            "diagnostics": [d.as_dict() for d in diagnostics],
        }
        return json.dumps(payload, indent=2, sort_keys=True)
    if fmt == "github":
        return "\n".join(_github(d) for d in diagnostics)
    lines = [d.lint_line() for d in diagnostics]
    errors = sum(d.is_error for d in diagnostics)
    if diagnostics:
        lines.append(f"{errors} error(s), {len(diagnostics) - errors} warning(s)")
    return "\n".join(lines)


def _github(d: Diagnostic) -> str:
    """`::warning file=F,line=L,col=C,title=RG203::message` (GitHub workflow commands)."""
    message = (d.message + d.hint + (f" [{d.env}]" if d.env else "")).replace("%", "%25").replace("\n", "%0A")
    return f"::{d.severity} file={d.file},line={d.line},col={d.column},title={d.code}::{message}"


def render_list(checks: Iterable[Check], fmt: str) -> str:
    rows = list(checks)
    if fmt == "json":
        data = [
            {"code": c.code, "name": c.name, "severity": c.severity, "stage": c.stage, "title": c.title, "doc": c.doc}
            for c in rows
        ]
        return json.dumps(data, indent=2, sort_keys=True)
    return "\n".join(f"{c.code}  {c.severity:<7}  {c.name:<24}  {c.title}" for c in rows)
