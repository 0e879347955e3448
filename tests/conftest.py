"""Shared helpers: paths, running the CLI, and requiring the real promtool."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis caches what it collects (constants from the source, examples) under its
# home, `.hypothesis/` in the working tree by default, naming checkout paths: the suite
# gives it a directory of its own (one per xdist worker) and removes it.
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="rulesgen-hypothesis-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, True)

# Plans on disk (`testgen/plancache.py`) go to a directory of the suite's own (one per
# xdist worker), never the user's cache, and are removed with it; the CLI runs the
# suite starts inherit it.
_PLAN_CACHE = tempfile.mkdtemp(prefix="rulesgen-plans-")
os.environ["RULESGEN_CACHE_DIR"] = _PLAN_CACHE
atexit.register(shutil.rmtree, _PLAN_CACHE, True)

settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "thresholds.yaml"
OUTPUT = ROOT / "output"
MINIMAL = Path(__file__).resolve().parent / "specs" / "minimal.yaml"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `rulesgen generate` writes for the shipped spec, independent of the committed
    output/: one tree per test module, which tests copy (`copied`) before editing it."""
    from rulesgen.pipeline import build

    root = tmp_path_factory.mktemp("generated") / "output"
    for rel, data in build(SPEC).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def copied(tree: Path, into: Path) -> Path:
    """A copy of `tree` under `into`, with the same name."""
    return Path(shutil.copytree(tree, into / tree.name))


def minimal_text() -> str:
    return MINIMAL.read_text()


def run_cli(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m rulesgen` as a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "rulesgen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def require(tool: str) -> str:
    """The path of a verifier the suite must run for real; `make test` installs it."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: run `make test` (it installs prometheus and prometheus-alertmanager)")
    return path


def running_under(path: Path) -> list[str]:
    """The command lines of running processes that name `path` (a server left behind)."""
    out = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(path) in cmdline:
            out.append(cmdline)
    return out
