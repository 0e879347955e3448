"""What checks read: the document, and each environment's alerts and compiled IR."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rulesgen.ir import Alert, EnvIR
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

    def compiled(self) -> Iterator[tuple[EnvAlert, Alert]]:
        """Each alert with its IR (program stage only)."""
        assert self.ir is not None
        by_name = {a.name: a for a in self.ir.alerts}
        for alert in self.alerts:
            if alert.model.name in by_name:
                yield alert, by_name[alert.model.name]
