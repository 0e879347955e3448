"""Runs the registry's checks at each stage and turns findings into diagnostics:
positions from the spec, the check's code and severity, suppressions applied."""

from __future__ import annotations

from collections.abc import Iterable

from rulesgen.errors import Diagnostic
from rulesgen.lint import DOCUMENT, ENVIRONMENT, ERROR, PROGRAM, WARNING, Check, Finding, by_stage
from rulesgen.lint.context import DocContext, EnvContext
from rulesgen.spec.validate import Document


class Linter:
    """The checks of one document; warnings the spec disables are dropped."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.disabled = {s.check for s in doc.header.lint.disable}
        self.disabled_for = {a.name: {s.check for s in a.lint_disable} for a in doc.alerts}

    def document(self) -> list[Diagnostic]:
        return self._run(by_stage(DOCUMENT), DocContext(self.doc))

    def environment(self, ctx: EnvContext) -> list[Diagnostic]:
        return self._run(by_stage(ENVIRONMENT), ctx)

    def program(self, ctx: EnvContext) -> list[Diagnostic]:
        return self._run(by_stage(PROGRAM), ctx)

    def _run(self, checks: Iterable[Check], ctx: DocContext | EnvContext) -> list[Diagnostic]:
        out = []
        for check in checks:
            assert check.run is not None
            for finding in check.run(ctx):
                if not self._suppressed(check, finding):
                    out.append(self.diagnostic(check, finding))
        return out

    def _suppressed(self, check: Check, finding: Finding) -> bool:
        if check.severity != WARNING:
            return False
        return check.code in self.disabled or check.code in self.disabled_for.get(finding.alert or "", set())

    def diagnostic(self, check: Check, finding: Finding) -> Diagnostic:
        line, column = self.doc.positions.of(finding.path, key=finding.key)
        error = self.doc.positions.error(finding.path, finding.message, key=finding.key)
        return Diagnostic(
            file=error.file,
            line=line,
            column=column,
            path=error.path,
            message=finding.message,
            code=check.code,
            severity=check.severity,
            hint=finding.hint,
            env=finding.env,
        )


def errors_in(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity == ERROR]
