"""What checks read: the document, and each environment's alerts and compiled IR."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rulesgen.errors import Path
from rulesgen.ir import Alert, EnvIR
from rulesgen.kinds.base import SelectorUse
from rulesgen.lint import Finding
from rulesgen.lower.overrides import EnvAlert
from rulesgen.spec.validate import Document


@dataclass(frozen=True)
class DocContext:
    doc: Document


@dataclass(frozen=True)
class EnvContext:
    """One environment: its enabled alerts after overrides and, at the program stage, its IR."""

    doc: Document
    env: str
    alerts: tuple[EnvAlert, ...]
    ir: EnvIR | None = None

    def finding(self, alert: EnvAlert, field: str, message: str, hint: str = "", key: bool = False) -> Finding:
        """A finding on an alert's field, at the override's line when the environment overrode it."""
        path, overridden = alert.where(field)
        return Finding(path, message, hint, self.env if overridden else None, key, alert.model.name)

    def selector_finding(
        self, alert: EnvAlert, use: SelectorUse, field: Path, message: str, hint: str = "", key: bool = False
    ) -> Finding:
        """A finding on part of a selector (`field`: ("metric",), ("matchers", label)):
        under its own spec field (`numerator`, `denominator[1]`) for kinds that read
        several, on the alert itself for kinds that read one; at the override's line when
        the environment overrode that field."""
        head, rest = (use.path[0], (*use.path[1:], *field)) if use.path else (field[0], field[1:])
        path, overridden = alert.where(str(head))
        return Finding((*path, *rest), message, hint, self.env if overridden else None, key, alert.model.name)

    def compiled(self) -> Iterator[tuple[EnvAlert, Alert]]:
        """Each alert with its IR (program stage only)."""
        assert self.ir is not None
        by_name = {a.name: a for a in self.ir.alerts}
        for alert in self.alerts:
            if alert.model.name in by_name:
                yield alert, by_name[alert.model.name]


def board_queries(doc: Document) -> Iterator[tuple[Path, str]]:
    """Every domain-dashboard query with the spec path of its `expr`, whichever form
    (`expr` or `queries`) the panel was written in."""
    for b, board in enumerate(doc.header.settings.dashboards.boards):
        for p, panel in enumerate(board.panels):
            at: Path = ("settings", "dashboards", "boards", b, "panels", p)
            if panel.queries:
                for q, query in enumerate(panel.queries):
                    yield (*at, "queries", q, "expr"), query.expr
            else:
                yield (*at, "expr"), panel.expr
