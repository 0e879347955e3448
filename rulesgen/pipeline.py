"""The compiler as an ordered chain: parse -> lint -> lower (per environment) -> lint
-> test generation -> targets. Each stage reads only what the one before produced."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from rulesgen.errors import Diagnostic, SpecErrors
from rulesgen.filetree import FileTree
from rulesgen.ir import Alert, AlertTests, ProgramIR, TestSuite
from rulesgen.kinds.base import AlertModel
from rulesgen.lint.context import EnvContext
from rulesgen.lint.run import Linter, errors_in
from rulesgen.lower import lower_env
from rulesgen.lower.alerts import AlertCompiler
from rulesgen.lower.catalog import label_sets, metrics
from rulesgen.lower.overrides import apply_overrides
from rulesgen.spec.validate import Document, load_spec, parse_spec
from rulesgen.targets import emit_all, target_options
from rulesgen.testgen.generate import generate_tests, iter_tests


@dataclass(frozen=True)
class Compiled:
    """A compiled spec: its IR, its generated tests and the warnings lint left."""

    doc: Document
    program: ProgramIR
    tests: TestSuite
    warnings: tuple[Diagnostic, ...]
    contexts: tuple[EnvContext, ...]


def lint_and_lower(doc: Document) -> tuple[list[Diagnostic], list[EnvContext]]:
    """Every diagnostic of the document and of each environment, and each environment's
    context with its IR (environments with errors are left uncompiled)."""
    linter = Linter(doc)
    diagnostics = linter.document()
    compiler = AlertCompiler(doc)
    contexts = []
    for env in doc.environments:
        override_errors: list[Diagnostic] = []
        alerts = apply_overrides(doc, env, override_errors)
        ctx = EnvContext(doc, env, tuple(a for a in alerts if a.model.enabled))
        diagnostics += override_errors + linter.environment(ctx)
        if errors_in(override_errors) or errors_in(linter.environment(ctx)):
            continue
        lowering_errors: list[Diagnostic] = []
        ir = lower_env(doc, env, ctx.alerts, compiler, lowering_errors)
        ctx = EnvContext(doc, env, ctx.alerts, ir)
        diagnostics += lowering_errors + linter.program(ctx)
        contexts.append(ctx)
    return sorted(set(diagnostics)), contexts


def alert_pairs(contexts: Sequence[EnvContext]) -> list[tuple[Alert, AlertModel]]:
    """Every enabled alert of every environment: its IR and its model there."""
    return [(compiled, alert.model) for ctx in contexts for alert, compiled in ctx.compiled()]


def _test_stream(doc: Document, contexts: Sequence[EnvContext]) -> Iterator[AlertTests]:
    """The generated tests, alert by alert; raises SpecErrors (RG004) at its end when an
    alert cannot be tested."""
    return iter_tests(doc, AlertCompiler(doc).resolve, alert_pairs(contexts))


def lint_document(doc: Document) -> list[Diagnostic]:
    """Every diagnostic `rulesgen lint` reports: each registered check, including those
    a compiler stage makes (target options, test generation: RG004), as `generate` would."""
    diagnostics, contexts = lint_and_lower(doc)
    target_options(doc, diagnostics)
    if not errors_in(diagnostics):
        try:
            for _ in _test_stream(doc, contexts):
                pass  # only the errors matter here; no suite is held
        except SpecErrors as exc:
            diagnostics += exc.errors
    return sorted(set(diagnostics))


def compile_document(doc: Document, tests: bool = True) -> Compiled:
    """Compile a parsed spec; raises SpecErrors with every error found."""
    diagnostics, contexts = lint_and_lower(doc)
    errors = errors_in(diagnostics)
    options_errors: list[Diagnostic] = []
    target_options(doc, options_errors)
    if errors or options_errors:
        raise SpecErrors([*errors, *options_errors])
    program = ProgramIR(
        source=PurePath(doc.file).name,
        envs=tuple(c.ir for c in contexts if c.ir),
        metrics=metrics(doc),
        label_sets=label_sets(doc),
        spec_sha256=doc.sha256,
    )
    suite = generate_tests(doc, AlertCompiler(doc).resolve, alert_pairs(contexts)) if tests else TestSuite()
    warnings = tuple(d for d in diagnostics if not d.is_error)
    return Compiled(doc, program, suite, warnings, tuple(contexts))


def compile_spec(doc: Document, tests: bool = True) -> ProgramIR:
    """The IR of a parsed spec (benchmarks and tests that only need the rules)."""
    return compile_document(doc, tests).program


def files_of(compiled: Compiled) -> FileTree:
    return emit_all(compiled.program, compiled.tests, target_options(compiled.doc, []))


def streamed_files(compiled: Compiled) -> FileTree:
    """Every generated file of a spec compiled without its tests (`tests=False`), the
    tests rendered as each alert's are generated, never all held at once: at thousands
    of alerts they were half of `generate`'s memory. Raises SpecErrors (RG004)."""
    stream = _test_stream(compiled.doc, compiled.contexts)
    files = emit_all(compiled.program, stream, target_options(compiled.doc, []))
    # With promtool_tests disabled no target reads the stream, yet an alert that cannot
    # be tested is still an error of the spec (RG004, as `lint` says): run it to its end.
    for _ in stream:
        pass
    return files


def build_document(doc: Document, tests: bool = True) -> FileTree:
    """Every generated file of a parsed spec; raises SpecErrors on bad input."""
    compiled = compile_document(doc, tests=False)
    return streamed_files(compiled) if tests else files_of(compiled)


def build(spec_path: str | Path) -> FileTree:
    """Every generated file for the spec at `spec_path`; raises SpecErrors on bad input."""
    return build_document(load_spec(spec_path))


def build_text(text: str, file: str = "thresholds.yaml", tests: bool = True) -> FileTree:
    """Like `build`, from spec text (tests, benchmarks); `tests=False` leaves out unit tests."""
    return build_document(parse_spec(text, file), tests)
