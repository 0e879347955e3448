"""Progress of the long commands (`rulesgen test`, `rulesgen mutate`) on a terminal.

The runners call a `Progress`: `start` for each phase, `advance` as units of work
finish, `close` at the end. On a terminal that is one line on stderr, redrawn in
place by rich's own thread, so the elapsed time keeps moving while a single promtool
run takes tens of seconds; `close` erases it before the report is printed. Anywhere
else (a pipe, a file, CI, `--format json`) it is `Silent`, which prints nothing at all.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import Task
    from rich.text import Text


class Progress(Protocol):
    def start(self, total: int, what: str) -> None:
        """A new phase `what` of `total` units; 0 when its size is not known."""

    def advance(self, label: str, units: int = 1) -> None:
        """`units` more are done; `label` names them (`env/alert`). Thread-safe."""

    def close(self) -> None:
        """Take the display off the terminal; idempotent."""


class Silent:
    """No output: not a terminal, or a machine-readable format."""

    def start(self, total: int, what: str) -> None:
        pass

    def advance(self, label: str, units: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


SILENT = Silent()
BAR = 12  # characters
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def line(command: str, task: Task, width: int) -> Text:
    """`⠋ rulesgen test: phase ━━━━━━━━ 12/40 0:01:05 prod/Alert`, at most `width` wide.

    One line composed here rather than rich's table of columns: on a narrow terminal
    the table squeezes the bar and the clock away, where this cuts the label first,
    then the phase, and keeps the count and the clock."""
    from rich.text import Text

    elapsed = task.elapsed or 0.0
    total, done = int(task.fields.get("of", 0)), int(task.completed)
    if total:
        filled = min(BAR, BAR * done // total)
        bar = Text.assemble(("━" * filled, "bar.complete"), ("─" * (BAR - filled), "bar.back"))
    else:  # a phase of unknown size: a short block sweeps along the bar
        at = int(elapsed * 8) % BAR
        bar = Text.assemble(("─" * at, "bar.back"), ("━", "bar.pulse"), ("─" * (BAR - at - 1), "bar.back"))
    count = f" {done}/{total}" if total else ""
    clock = str(timedelta(seconds=int(elapsed)))
    head = Text(f"{SPINNER[int(elapsed * 10) % len(SPINNER)]} {command}: {task.description}")
    tail = Text.assemble(" ", bar, count, " ", (clock, "progress.elapsed"))
    label = Text(f" {task.fields.get('label', '')}".rstrip())
    room = max(width - 1 - tail.cell_len, 1)  # the last column stays free: no wrap
    head.truncate(room, overflow="ellipsis")
    left = room - head.cell_len
    if left > 2:
        label.truncate(left, overflow="ellipsis")
    else:  # a label of an ellipsis or less says nothing
        label = Text()
    return Text.assemble(head, tail, label, no_wrap=True)


class Terminal:
    """One transient rich progress line on stderr for `command`."""

    def __init__(self, command: str) -> None:
        # Imported here: a run without a terminal does not pay for rich.
        from rich.console import Console
        from rich.progress import Progress as RichProgress
        from rich.progress import ProgressColumn

        console = Console(file=sys.stderr)

        class Line(ProgressColumn):
            def render(self, task: Task) -> Text:
                return line(command, task, console.width)

        self._bar = RichProgress(Line(), console=console, transient=True, refresh_per_second=8)
        # One task for the whole command: its clock is the command's elapsed time.
        self._task = self._bar.add_task("", total=None, of=0, label="")
        self._done = 0
        self._lock = threading.Lock()  # advance comes from worker threads too

    def start(self, total: int, what: str) -> None:
        with self._lock:
            # The display starts here, not in __init__: a signal arriving meanwhile
            # unwinds through `shown`, which closes what has started.
            self._done = 0
            # The total is a field of ours: rich's update cannot set a task's total back to unknown.
            self._bar.update(self._task, description=what, completed=0, of=total, label="")
            self._bar.start()
            self._bar.refresh()

    def advance(self, label: str, units: int = 1) -> None:
        with self._lock:
            self._done += units
            # Drawn at once, not at the next tick: a phase can end before that, and
            # each finished unit is seen (there are a few per second at most).
            self._bar.update(self._task, completed=self._done, label=label, refresh=True)

    def close(self) -> None:
        self._bar.stop()


def on_terminal() -> bool:
    """Whether a person is watching: both output streams are a terminal that can redraw a line."""
    return sys.stdout.isatty() and sys.stderr.isatty() and os.environ.get("TERM", "") != "dumb"


@contextmanager
def shown(command: str, fmt: str = "text") -> Iterator[Progress]:
    """Progress for one command, closed however it ends (a report, an error, a signal).
    Nothing shows until the command's first `start`."""
    progress: Progress = Terminal(command) if fmt != "json" and on_terminal() else SILENT
    try:
        yield progress
    finally:
        progress.close()


def label(names: Iterable[str]) -> str:
    """The first of the units (`env/alert`) that finished together, and how many more."""
    distinct = list(dict.fromkeys(names))
    more = f" +{len(distinct) - 1} more" if len(distinct) > 1 else ""
    return f"{distinct[0]}{more}" if distinct else ""
