"""Every child process (promtool, amtool) runs through here, so a hung one times out
and an interrupted rulesgen stops each one by its PID before it unwinds.

`trapped()` turns SIGINT and SIGTERM into `Interrupted`, a BaseException like
KeyboardInterrupt: the `with` blocks and `finally` clauses on its way out remove the
temporary trees, the writer puts back what it had moved, and `cli.main` prints one line
and exits 128 + the signal's number (130, 143)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType


class Interrupted(BaseException):
    """rulesgen was told to stop by a signal; its children are stopped already."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


@dataclass(frozen=True)
class Completed:
    """How a child ended: its exit code (None when it was killed for taking too long)
    and what it printed."""

    args: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    timeout: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).strip()


# promtool's and amtool's success lines (see `said_success`).
_SUCCESS = re.compile(r"(?:^|\s)SUCCESS(?::.*)?$", re.M)


def said_success(output: str) -> bool:
    """Whether a tool's output ends its verdict with the success line: `SUCCESS` alone
    (promtool test rules), `SUCCESS: 9 rules found` (promtool check rules) or
    `Checking 'file'  SUCCESS` (amtool check-config). Exit 0 without it is no pass: a
    tool that crashed quietly or printed nothing has judged nothing."""
    return _SUCCESS.search(output) is not None


_lock = threading.RLock()  # re-entrant: the handler runs on the main thread, which may hold it
_children: set[subprocess.Popen[str]] = set()
_stopping: list[int] = []  # the signal being handled, once one arrived


def run(
    args: Sequence[str],
    timeout: float,
    *,
    cwd: Path | None = None,
    merge: bool = False,
    env: Mapping[str, str] | None = None,
) -> Completed:
    """Run `args` to completion or `timeout` seconds, whichever first; `merge` sends
    stderr into stdout (promtool interleaves which file failed with why); `env`, when
    given, is the child's whole environment."""
    with _lock:
        if _stopping:
            raise Interrupted(_stopping[0])
        proc = subprocess.Popen(
            list(args),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge else subprocess.PIPE,
            text=True,
            # Its own process group, whose ID is its PID: killing the group by that PID
            # also stops anything it started (a wrapper script's own child).
            start_new_session=True,
        )
        _children.add(proc)
    try:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            _kill(proc)
            stdout, stderr = proc.communicate()
            code = None
    finally:
        if proc.poll() is None:  # interrupted mid-wait: the handler killed it; reap it
            _kill(proc)
            proc.wait()
        with _lock:
            _children.discard(proc)
    if _stopping:
        raise Interrupted(_stopping[0])
    return Completed(tuple(args), code, stdout or "", stderr or "", timeout)


def _kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the child's process group (its PID), or the child alone if that fails."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        with contextlib.suppress(OSError):
            proc.kill()


def stop_children() -> int:
    """Kill every running child by its PID; how many there were."""
    with _lock:
        running = [p for p in _children if p.poll() is None]
        for proc in running:
            _kill(proc)
        return len(running)


def _handle(signum: int, frame: FrameType | None) -> None:
    with _lock:
        if _stopping:
            return  # a second signal while unwinding must not cut the clean-up short
        _stopping.append(signum)
        stop_children()
    raise Interrupted(signum)


@contextmanager
def trapped() -> Iterator[None]:
    """SIGINT and SIGTERM raise Interrupted in the main thread while inside."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        with _lock:
            _stopping.clear()
