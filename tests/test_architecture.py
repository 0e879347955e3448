"""The layout is a contract: the IR is plain data that imports neither the spec models
nor the kinds, targets read only the IR, and no module but a kind names a kind."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from rulesgen.kinds import registry

PACKAGE = Path(__file__).resolve().parent.parent / "rulesgen"


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return out


def test_ir_imports_neither_spec_models_nor_kinds() -> None:
    found = imports(PACKAGE / "ir.py")
    assert not {m for m in found if m.startswith(("rulesgen.spec", "rulesgen.kinds", "pydantic"))}, found


@pytest.mark.parametrize("path", sorted((PACKAGE / "targets").glob("*.py")), ids=lambda p: p.name)
def test_targets_import_no_kind_and_no_spec_model(path: Path) -> None:
    found = {m for m in imports(path) if m.startswith(("rulesgen.kinds", "rulesgen.spec.models"))}
    assert not found, f"{path.name} imports {found}"


def test_no_module_outside_kinds_names_a_kind() -> None:
    """Adding a kind is adding a file: nothing else may mention a kind by name."""
    kinds = set(registry())
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "kinds":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            # A kind named where code decides something: `x.kind == "ratio"`, `kind in (...)`.
            # (units share a word with kinds: `quantity.unit != "ratio"` is about units)
            left = node.left if isinstance(node, ast.Compare) else None
            is_unit = (isinstance(left, ast.Attribute) and left.attr == "unit") or (
                isinstance(left, ast.Name) and left.id == "unit"
            )
            if isinstance(node, ast.Compare) and not is_unit:
                for const in ast.walk(node):
                    if isinstance(const, ast.Constant) and isinstance(const.value, str) and const.value in kinds:
                        offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {const.value!r}")
    assert not offenders, offenders


PLANNING = [PACKAGE / "testgen" / "planner.py", *sorted((PACKAGE / "testgen" / "families").glob("*.py"))]


@pytest.mark.parametrize("path", PLANNING, ids=lambda p: p.name)
def test_the_planner_and_its_families_know_no_kind(path: Path) -> None:
    """No kind's name as a string or an identifier in the planner's code or in the
    scenario families it runs (prose in their docstrings may still say "a ratio"):
    kinds select families through their invariants."""
    tree = ast.parse(path.read_text())
    kinds = set(registry())
    named = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    named |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    named |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not named & kinds, named & kinds


VERIFY_FORBIDDEN = ("rulesgen.pipeline", "rulesgen.spec", "rulesgen.kinds", "rulesgen.lower", "rulesgen.testgen")


@pytest.mark.parametrize("path", sorted((PACKAGE / "verify").rglob("*.py")), ids=lambda p: p.name)
def test_verify_reads_output_only(path: Path) -> None:
    """The verification wing judges what was generated: it never imports how."""
    found = {m for m in imports(path) if m.startswith(VERIFY_FORBIDDEN)}
    assert not found, f"{path.name} imports {found}"


def test_verify_loads_no_compiler_stage_even_indirectly() -> None:
    """A module of the wing importing one outside it that imports the compiler (or a
    lazy import inside a function body at import time) is caught here: every module of
    the wing is imported in a fresh interpreter and none of the compiler's is loaded."""
    program = (
        "import importlib, pkgutil, sys, rulesgen.verify as v\n"
        "names = [m.name for m in pkgutil.walk_packages(v.__path__, 'rulesgen.verify.')]\n"
        "for name in names: importlib.import_module(name)\n"
        f"print(len(names), sorted(m for m in sys.modules if m.startswith({VERIFY_FORBIDDEN!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True)
    count, _, loaded = done.stdout.strip().partition(" ")
    assert int(count) == len(list((PACKAGE / "verify").rglob("*.py"))) - 1, done.stdout  # all but the wing's __init__
    assert loaded == "[]", f"importing rulesgen.verify loads {loaded}"
