"""Emitters: one module per target, each a pure function from IR to {relative path: bytes}."""

from __future__ import annotations

from collections.abc import Callable

from rulesgen.ir import ProgramIR

Files = dict[str, bytes]
Emitter = Callable[[ProgramIR], Files]


def all_emitters() -> list[Emitter]:
    """The targets `rulesgen generate` writes, in a fixed order."""
    from rulesgen.emit import alertmanager, docs, grafana, prometheus, promtool_tests

    return [prometheus.emit, promtool_tests.emit, alertmanager.emit, grafana.emit, docs.emit]


def emit_all(program: ProgramIR) -> Files:
    files: Files = {}
    for emitter in all_emitters():
        for path, content in emitter(program).items():
            if path in files:
                raise RuntimeError(f"two emitters wrote {path}")
            files[path] = content
    return dict(sorted(files.items()))
