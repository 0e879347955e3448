"""SIGINT and SIGTERM stop a real `rulesgen` process cleanly: its children are stopped
by PID, its temporary trees are removed, it prints one line and exits 130 or 143. A
tree a SIGKILLed run left beside output/ is swept by the next run and ignored by git.

The child each command waits on is a promtool that hangs (a script first on PATH), so
the signal arrives while rulesgen is busy with a child, as in a long `test` or `mutate`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from conftest import ROOT, minimal_text, require, run_cli


def marker(project: Path) -> str:
    """What the project's hanging promtool has in its command line (a duration `sleep`
    adds up): one per project, so that a test running beside it in another worker, or
    a hanging promtool another test left, is never taken for this test's."""
    return f"2.{zlib.crc32(str(project).encode()):010d}"


def hanging_children(project: Path) -> list[int]:
    found = []
    mark = f"\0{marker(project)}\0".encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if mark in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    require("promtool")
    spec = tmp_path / "thresholds.yaml"
    spec.write_text(minimal_text())
    assert run_cli("generate", "--spec", str(spec), "--output", str(tmp_path / "output")).returncode == 0
    (tmp_path / "stubs").mkdir()
    stub = tmp_path / "stubs" / "promtool"
    stub.write_text(f"#!/bin/sh\nexec sleep 60 {marker(tmp_path)}\n")
    stub.chmod(0o755)
    (tmp_path / "tmp").mkdir()
    return tmp_path


def interrupt(project: Path, signum: int, *args: str) -> subprocess.CompletedProcess[str]:
    """Start rulesgen, wait until its hanging promtool runs, send `signum` to rulesgen alone."""
    env = {
        **os.environ,
        "PATH": f"{project / 'stubs'}{os.pathsep}{os.environ['PATH']}",
        "TMPDIR": str(project / "tmp"),
    }
    spec, output = str(project / "thresholds.yaml"), str(project / "output")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rulesgen", *args, "--spec", spec, "--output", output],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not hanging_children(project):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the hanging promtool never started"
            time.sleep(0.05)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.parametrize(
    ("command", "signum"),
    [
        (("test",), signal.SIGINT),
        (("test",), signal.SIGTERM),
        (("mutate",), signal.SIGTERM),
        (("mutate",), signal.SIGINT),
        (("generate",), signal.SIGTERM),  # during the self-check
    ],
    ids=lambda v: v[0] if isinstance(v, tuple) else signal.Signals(v).name,
)
def test_a_signal_stops_everything_and_exits_128_plus_it(project: Path, command: tuple[str, ...], signum: int) -> None:
    before = {p.relative_to(project / "output"): p.read_bytes() for p in (project / "output").rglob("*") if p.is_file()}
    result = interrupt(project, signum, *command)
    name = signal.Signals(signum).name
    assert result.returncode == 128 + signum, result.stderr
    assert result.stderr == f"rulesgen: interrupted by {name}; stopped, temporary files removed\n"
    assert hanging_children(project) == [], "an orphaned promtool outlived rulesgen"
    assert list((project / "tmp").iterdir()) == [], "a temporary tree was left behind"
    assert sorted(p.name for p in project.iterdir()) == ["output", "stubs", "thresholds.yaml", "tmp"]
    after = {p.relative_to(project / "output"): p.read_bytes() for p in (project / "output").rglob("*") if p.is_file()}
    assert after == before


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_stale_temporary_tree_is_swept_and_a_live_one_kept(tmp_path: Path) -> None:
    spec = tmp_path / "thresholds.yaml"
    spec.write_text(minimal_text())
    stale = tmp_path / f"output.rulesgen-tmp-{dead_pid()}-abcd1234"
    (stale / "new").mkdir(parents=True)
    (stale / "new" / "x.yml").write_text("half written")
    live = tmp_path / f"output.rulesgen-tmp-{os.getpid()}-live0000"
    live.mkdir()
    result = run_cli("generate", "--spec", str(spec), "--output", str(tmp_path / "output"))
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and live.is_dir()


def test_a_tree_killed_mid_swap_is_put_back_before_anything_else(tmp_path: Path) -> None:
    """Killed between moving output/ aside and moving the new tree in: output/ is
    missing and its only copy is the temporary tree's `old`; it comes back."""
    spec = tmp_path / "thresholds.yaml"
    spec.write_text(minimal_text())
    stale = tmp_path / f"output.rulesgen-tmp-{dead_pid()}-abcd1234"
    (stale / "old").mkdir(parents=True)
    (stale / "old" / "notes.txt").write_text("mine")
    result = run_cli("generate", "--spec", str(spec), "--output", str(tmp_path / "output"))
    # The recovered tree holds a file rulesgen did not write, so generate refuses it.
    assert result.returncode == 2 and "did not write" in result.stderr
    assert (tmp_path / "output" / "notes.txt").read_text() == "mine"
    assert not stale.exists()


def test_git_ignores_the_temporary_trees() -> None:
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", "output.rulesgen-tmp-123-abcd1234/new/x.yml"],
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0
