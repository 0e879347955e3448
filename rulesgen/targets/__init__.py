"""Targets: one module each, every one a `Target` (name, options model, emit function)
that reads only the IR and the generated tests. Adding a target is adding a module."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from rulesgen.errors import Diagnostic, did_you_mean
from rulesgen.filetree import FileTree
from rulesgen.ir import AlertTests, ProgramIR
from rulesgen.targets.base import AnyTarget, Files, Options

if TYPE_CHECKING:
    from rulesgen.spec.validate import Document

__all__ = ["Files", "emit_all", "registry", "target_options"]


@cache
def registry() -> dict[str, AnyTarget]:
    """Target name -> target, from this package's modules that define `TARGET`."""
    out: dict[str, AnyTarget] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        target = getattr(module, "TARGET", None)
        if target is not None:
            out[target.name] = target
    return out


def target_options(doc: Document, errors: list[Diagnostic]) -> dict[str, Options]:
    """Each enabled target's options, from the spec's `targets:` section; problems are
    appended to `errors` with their line and column."""
    from rulesgen.spec.validate import pydantic_errors

    targets = registry()
    raw: dict[str, dict[str, Any]] = doc.header.targets
    out: dict[str, Options] = {}
    for name in raw:
        if name not in targets:
            message = f"unknown target {name!r}; known: {', '.join(targets)}{did_you_mean(name, targets)}"
            errors.append(doc.positions.error(("targets", name), message, key=True))
    for name, target in targets.items():
        if name not in raw and not target.default:
            continue
        try:
            options = target.options.model_validate(raw.get(name) or {})
        except ValidationError as exc:
            errors.extend(pydantic_errors(exc, ("targets", name), raw.get(name) or {}, doc.positions))
            continue
        if options.enabled:
            out[name] = options
    return out


class _ReadOnce(Iterable[AlertTests]):
    """The tests, for targets: a second target reading them would find a stream empty
    and write no tests without a word, so a second read is a bug, raised."""

    def __init__(self, tests: Iterable[AlertTests]) -> None:
        self.tests, self.read = tests, False

    def __iter__(self) -> Iterator[AlertTests]:
        if self.read:
            raise RuntimeError("the generated tests were read by two targets; only promtool_tests may read them")
        self.read = True
        return iter(self.tests)


def emit_all(program: ProgramIR, tests: Iterable[AlertTests], options: dict[str, Options]) -> FileTree:
    """The files of every enabled target, by path; two targets never write one path.
    `tests` is read once, by the one target that reads it (it may be a stream)."""
    files = FileTree()
    targets = registry()
    once = _ReadOnce(tests)
    for name, opts in options.items():
        emitted = FileTree(targets[name].run(program, once, opts))
        for path in emitted:
            if path in files:
                raise RuntimeError(f"two targets wrote {path}")
            files.add_from(emitted, path)
    return files.sorted()
