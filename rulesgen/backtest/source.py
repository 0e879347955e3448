"""Where recorded history comes from: a Prometheus-compatible HTTP API, or an OpenMetrics
file that rulesgen serves from a temporary TSDB with the Debian `prometheus`.

The file is split into one file per 2 h block window before `promtool tsdb
create-blocks-from openmetrics` reads it: promtool re-reads its whole input once per
block, so a week read at once would be parsed 84 times.
"""

from __future__ import annotations

import gzip
import json
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from rulesgen.ir import Labels

BLOCK = 7200  # promtool's block length, seconds
MAX_POINTS = 11_000  # Prometheus refuses a query_range of more points per series
CHUNK_POINTS = 10_000
READY_TIMEOUT = 30.0
HOST = "127.0.0.1"

Matrix = dict[Labels, dict[int, float]]  # labels (without __name__) -> unix second -> value


class SourceError(Exception):
    """A source that cannot be read: one line for the user."""


def open_text(path: Path, mode: str = "r") -> IO[str]:
    """A text file, gzip-compressed when its name ends in `.gz`."""
    if path.suffix == ".gz":
        return cast(IO[str], gzip.open(path, mode + "t", compresslevel=6))
    return path.open(mode)


@dataclass(frozen=True)
class Source:
    """A query URL and, for a file, the first and last second it holds."""

    url: str
    first: int | None = None
    last: int | None = None


def split_blocks(path: Path, into: Path) -> tuple[list[Path], int, int]:
    """One OpenMetrics file per block window, each with the `# TYPE` lines it needs, and
    the first and last timestamp of the file."""
    files: dict[int, IO[str]] = {}
    first, last = 2**62, 0
    header: dict[int, str] = {}
    family = ""
    samples = 0
    try:
        with open_text(path) as src:
            for number, line in enumerate(src, 1):
                if line.startswith("#"):
                    if line.startswith("# TYPE") or line.startswith("# HELP") or line.startswith("# UNIT"):
                        family = line if line.startswith("# TYPE") else family
                    continue
                if not line.strip():
                    continue
                try:
                    ts = int(float(line.rsplit(" ", 1)[1]))
                except (IndexError, ValueError):
                    raise SourceError(
                        f"{path}:{number}: not OpenMetrics with timestamps: {line.strip()[:80]}"
                    ) from None
                first, last = min(first, ts), max(last, ts)
                window = ts - ts % BLOCK
                out = files.get(window)
                if out is None:
                    out = files[window] = (into / f"{window}.om").open("w")
                if header.get(window) != family:
                    out.write(family)
                    header[window] = family
                out.write(line)
                samples += 1
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise SourceError(f"{path}: not an OpenMetrics file ({exc})") from None
    finally:
        for out in files.values():
            out.write("# EOF\n")
            out.close()
    if not samples:
        raise SourceError(f"{path}: no samples")
    return [into / f"{w}.om" for w in sorted(files)], first, last


def _create_blocks(chunk: Path, data: Path) -> None:
    done = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(chunk), str(data)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    chunk.unlink()
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["promtool failed"])[-1]
        raise SourceError(f"{chunk.name}: not OpenMetrics that promtool reads: {message}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def _prometheus(data: Path, workdir: Path) -> Iterator[str]:
    """The Debian Prometheus serving `data` on a free port, stopped by PID on exit."""
    port = _free_port()
    config = workdir / "prometheus.yml"
    config.write_text("global: {}\n")
    with (workdir / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                # Blocks older than the default 15 d would be deleted at start.
                "--storage.tsdb.retention.time=100y",
                f"--web.listen-address={HOST}:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://{HOST}:{port}"
    try:
        _wait_ready(proc, url, workdir / "prometheus.log")
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    until = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < until:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise SourceError(f"prometheus exited with {proc.returncode}: {tail[0]}")
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SourceError(f"prometheus was not ready at {url} within {READY_TIMEOUT:g}s")


@contextmanager
def openmetrics_server(path: Path, workers: int = 2) -> Iterator[Source]:
    """The URL of a Prometheus serving the history in `path`; everything is removed on exit."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    workdir = Path(tempfile.mkdtemp(prefix="rulesgen-backtest-"))
    try:
        chunks = workdir / "chunks"
        chunks.mkdir()
        data = workdir / "data"
        data.mkdir()
        parts, first, last = split_blocks(path, chunks)
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda c: _create_blocks(c, data), parts))
        with _prometheus(data, workdir) as url:
            yield Source(url, first, last)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def open_source(source: str) -> Iterator[Source]:
    """A query URL for `source`: an http(s) URL as is, or a file served locally."""
    if source.startswith(("http://", "https://")):
        yield Source(source.rstrip("/"))
        return
    with openmetrics_server(Path(source)) as served:
        yield served


def _get(url: str, params: dict[str, str], retries: int = 3) -> Any:
    full = f"{url}?{urllib.parse.urlencode(params)}"
    for attempt in range(retries):
        try:
            with urllib.request.urlopen(full, timeout=60) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            raise SourceError(f"{url}: HTTP {exc.code}: {body[:200]}") from None
        except OSError as exc:
            if attempt == retries - 1:
                raise SourceError(f"{url}: unreachable ({exc})") from None
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def strip_name(metric: dict[str, str]) -> Labels:
    return tuple(sorted((k, v) for k, v in metric.items() if k != "__name__"))


def query_range(url: str, expr: str, start: int, end: int, step: int) -> Matrix:
    """`expr` at every step in [start, end], in chunks under the points limit."""
    out: Matrix = {}
    at = start
    while at <= end:
        until = min(end, at + (CHUNK_POINTS - 1) * step)
        params = {"query": expr, "start": str(at), "end": str(until), "step": str(step)}
        body = _get(f"{url}/api/v1/query_range", params)
        for series in body["data"]["result"]:
            values = out.setdefault(strip_name(series["metric"]), {})
            for ts, value in series["values"]:
                values[int(ts)] = float(value)
        at = until + step
    return out
