"""`rulesgen test` and `rulesgen mutate` show a progress line on a terminal, soon after
they start, and take it away before the report; on a pipe, and in `--format json`,
they print nothing but the report.

The terminal is a real pseudo-terminal (`pty`) on both output streams, as a person's
shell gives them; every run is bounded in time."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.progress import Progress

from conftest import ROOT, minimal_text, require, run_cli
from rulesgen.progress import Terminal, line

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COLUMNS = 200
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


@dataclass
class Screen:
    """What a command wrote to its terminal: (seconds since start, text) chunks."""

    returncode: int
    chunks: list[tuple[float, str]]

    @property
    def raw(self) -> str:
        return "".join(text for _, text in self.chunks)

    @property
    def text(self) -> str:
        """Without colours and cursor moves: the words a person reads."""
        return ANSI.sub("", self.raw)

    def first(self, pattern: str) -> float | None:
        """When `pattern` first showed, in seconds from the start."""
        seen = ""
        for at, text in self.chunks:
            seen += text
            if re.search(pattern, ANSI.sub("", seen)):
                return at
        return None


def on_terminal(
    args: list[str], env: dict[str, str], timeout: float, when: Callable[[str], bool] | None = None
) -> Screen:
    """Run rulesgen with stdin, stdout and stderr on one pseudo-terminal, COLUMNS wide,
    reading it until the command exits. `when`: SIGINT it once `when(text so far)`."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, COLUMNS, 0, 0))
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rulesgen", *args],
        cwd=ROOT,
        # No cache: passes another test remembered would leave no promtool run to show.
        env={**os.environ, "TERM": "xterm-256color", "RULESGEN_CACHE_DIR": "off", **env},
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    chunks: list[tuple[float, str]] = []
    signalled = when is None
    try:
        while True:
            assert time.monotonic() - start < timeout, f"still running after {timeout}s: {chunks[-5:]}"
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every holder of the terminal closed it
                    break
                if not data:
                    break
                chunks.append((time.monotonic() - start, data.decode(errors="replace")))
            if not signalled and when is not None and when(ANSI.sub("", "".join(t for _, t in chunks))):
                proc.send_signal(signal.SIGINT)
                signalled = True
        returncode = proc.wait(timeout=max(timeout - (time.monotonic() - start), 1))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Screen(returncode, chunks)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require("promtool")
    require("amtool")
    root = tmp_path_factory.mktemp("progress")
    (root / "thresholds.yaml").write_text(minimal_text())
    generated = run_cli("generate", "--spec", str(root / "thresholds.yaml"), "--output", str(root / "output"))
    assert generated.returncode == 0, generated.stderr
    return root


def where(project: Path) -> list[str]:
    return ["--spec", str(project / "thresholds.yaml"), "--output", str(project / "output")]


def soon() -> float:
    """How soon the first progress must show: 2 seconds, or on a machine too busy for
    that, one second more than Python takes right now to import rulesgen's CLI and
    rich, which any output must wait for. Either way long before the spec is built
    (several seconds for the shipped spec) or the first promtool run ends."""
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", "import rulesgen.cli, rich.progress"], cwd=ROOT, check=True)
    return max(2.0, time.monotonic() - start + 1.0)


SUMMARY = re.compile(r"(\d+) alerts, (\d+) passed, 0 failed")


def test_test_shows_progress_within_two_seconds_and_then_its_report(project: Path) -> None:
    limit = soon()
    screen = on_terminal(["test", *where(project)], {}, timeout=120)
    assert screen.returncode == 0, screen.text
    shown = screen.first(r"rulesgen test: ")
    assert shown is not None and shown < limit, f"first progress after {shown}s"
    summary = SUMMARY.search(screen.text)
    assert summary is not None, screen.text
    total = int(summary.group(2))
    # promtool's runs counted against every scenario, naming the alerts that finished
    assert re.search(rf"promtool scenarios \S+ \d+/{total} \d:\d\d:\d\d prod/Tx(Failing|Ratio)", screen.text)
    # the line is taken away before the report: the report's lines are clean
    report = screen.raw[screen.raw.index("env ") :]
    assert "rulesgen test:" not in report and SHOW_CURSOR in screen.raw[: screen.raw.index("env ")]


def test_mutate_shows_mutants_decided_then_its_report(project: Path) -> None:
    limit = soon()
    screen = on_terminal(["mutate", "--alert", "TxFailing", *where(project)], {}, timeout=240)
    assert screen.returncode == 0, screen.text
    shown = screen.first(r"rulesgen mutate: ")
    assert shown is not None and shown < limit, f"first progress after {shown}s"
    decided = [int(n) for n in re.findall(r"round \d+, (\d+)/\d+ mutants decided", screen.text)]
    assert decided and decided == sorted(decided), decided
    assert re.search(r"scenarios \S+ \d+/\d+ \d:\d\d:\d\d prod/TxFailing", screen.text)
    assert re.search(r"prod: mutation score \d", screen.text)
    assert "rulesgen mutate:" not in screen.raw[screen.raw.index("env ") :]


@pytest.mark.parametrize(
    "command", [("test",), ("mutate", "--alert", "TxFailing")], ids=lambda c: c[0] if isinstance(c, tuple) else c
)
def test_a_pipe_gets_the_report_alone(project: Path, command: tuple[str, ...]) -> None:
    result = run_cli(*command, *where(project))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "score" in result.stdout or SUMMARY.search(result.stdout)
    for stream in (result.stdout, result.stderr):
        assert "\r" not in stream and "\x1b" not in stream and "rulesgen " not in stream


def test_json_on_a_terminal_is_json_alone(project: Path) -> None:
    screen = on_terminal(["test", "--format", "json", *where(project)], {}, timeout=120)
    assert screen.returncode == 0, screen.text
    assert "\x1b" not in screen.raw and "rulesgen test:" not in screen.raw
    assert json.loads(screen.raw)["ok"] is True


def assert_interrupted_cleanly(screen: Screen) -> None:
    """Exit 130; the line taken away, the cursor shown again, then rulesgen's one
    line, and nothing after it (no frame drawn by a display left running)."""
    assert screen.returncode == 130, screen.text
    raw = screen.raw
    assert HIDE_CURSOR in raw, "no progress was shown"
    assert raw.rindex(SHOW_CURSOR) > raw.rindex(HIDE_CURSOR), "the cursor was left hidden"
    after = ANSI.sub("", raw[raw.rindex(SHOW_CURSOR) :]).strip()
    assert after == "rulesgen: interrupted by SIGINT; stopped, temporary files removed"


HANG = "#!/bin/sh\nexec sleep 60 4.0731\n"  # the marker finds it in /proc


def hanging() -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"4.0731" in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def test_an_interrupt_takes_the_line_away_and_gives_the_cursor_back(project: Path, tmp_path: Path) -> None:
    stub = tmp_path / "promtool"
    stub.write_text(HANG)
    stub.chmod(0o755)
    path = {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    # Bounded generously: at load 8 the first (hanging) promtool had not started after
    # 60 s, with the progress line already shown; what is judged is the interrupt.
    screen = on_terminal(
        ["test", *where(project)], path, timeout=150, when=lambda text: "promtool scenarios" in text and bool(hanging())
    )
    assert hanging() == []
    assert_interrupted_cleanly(screen)


@pytest.mark.parametrize("command", ["test", "mutate"])
def test_the_shipped_spec_shows_progress_within_two_seconds(command: str) -> None:
    """The shipped spec takes seconds to build before anything runs: the line shows
    before that; the run is interrupted once it did."""
    require("promtool")
    limit = soon()
    screen = on_terminal([command], {}, timeout=60, when=lambda text: f"rulesgen {command}: " in text)
    shown = screen.first(f"rulesgen {command}: ")
    assert shown is not None and shown < limit, f"first progress after {shown}s"
    assert_interrupted_cleanly(screen)


def rendered(width: int, total: int, label: str) -> str:
    bar = Progress()
    task = bar.add_task("round 4, 48/65 mutants decided; scenarios", of=total, label=label)
    bar.update(task, completed=36)
    return line("rulesgen mutate", bar.tasks[0], width).plain


@pytest.mark.parametrize("width", [30, 60, 80, 100, 200])
def test_the_line_fits_its_terminal_keeping_count_and_clock(width: int) -> None:
    text = rendered(width, 68, "prod/BillingTransactionFailureRatioHigh +1 more")
    assert len(text) < width
    assert re.search(r" ━{6}─{6} 36/68 0:00:0\d", text), text
    if width >= 140:
        assert text.endswith(" prod/BillingTransactionFailureRatioHigh +1 more")
    assert not text.endswith(" …")


def test_a_phase_of_unknown_size_has_no_count() -> None:
    text = rendered(200, 0, "")
    assert re.fullmatch(r"\S rulesgen mutate: round 4, 48/65 mutants decided; scenarios [─━]{12} 0:00:0\d", text)


def test_a_phase_of_unknown_size_after_a_counted_one_has_no_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each phase starts afresh: the routing checks after promtool's scenarios are not `0/511`."""
    frames: list[str] = []
    terminal = Terminal("rulesgen test")
    monkeypatch.setattr(terminal._bar, "refresh", lambda: frames.append(line("t", terminal._bar.tasks[0], 200).plain))
    monkeypatch.setattr(terminal._bar, "start", lambda: None)
    terminal.start(511, "promtool scenarios")
    terminal.advance("prod/A", 511)
    terminal.start(0, "routing")
    terminal.advance("prod/B")
    # without the spinner, the bar and the clock
    assert [re.sub(r" [─━]{12}( \d+/\d+)? \d:\d\d:\d\d", r"\1", f[2:]) for f in frames] == [
        "t: promtool scenarios 0/511",
        "t: promtool scenarios 511/511 prod/A",
        "t: routing",
        "t: routing prod/B",
    ]
