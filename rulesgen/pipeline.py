"""The compiler as an ordered chain: load -> validate -> lower -> emit."""

from __future__ import annotations

from pathlib import Path

from rulesgen.emit import Files, emit_all
from rulesgen.ir import ProgramIR
from rulesgen.lower import lower
from rulesgen.spec.validate import Spec, load_spec, parse_spec


def compile_spec(spec: Spec, tests: bool = True) -> ProgramIR:
    return lower(spec, tests)


def build(spec_path: str | Path) -> Files:
    """Every generated file for the spec at `spec_path`; raises SpecErrors on bad input."""
    return emit_all(compile_spec(load_spec(spec_path)))


def build_text(text: str, file: str = "thresholds.yaml", tests: bool = True) -> Files:
    """Like `build`, from spec text (tests, benchmarks); `tests=False` leaves out unit tests."""
    return emit_all(compile_spec(parse_spec(text, file), tests))
