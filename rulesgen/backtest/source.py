"""Where recorded history comes from: a Prometheus-compatible HTTP API, or an OpenMetrics
file that rulesgen serves from a temporary TSDB with the Debian `prometheus`.

The file is split into one file per block window before `promtool tsdb
create-blocks-from openmetrics` reads it: promtool re-reads its whole input once per
block, so a week read at once would be parsed once per block. Blocks are 54 h (the
hidden `--max-block-duration` of promtool; 2 h by default), the third of the TSDB's
block ranges: most of a promtool run is its start (~0.1 s of CPU), and a month in 2 h
blocks took 360 runs, half the CPU of a backtest, and 360 blocks for every query to
open. A block's samples are held in promtool's memory while it is written, so the
blocks stay at a fraction of the file, not the whole of it.
"""

from __future__ import annotations

import gzip
import io
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from rulesgen.ir import Labels
from rulesgen.verify.client import ApiError, Auth, Client, Unreachable
from rulesgen.verify.engines import EngineError, Prometheus

BLOCK = 54 * 3600  # block length, seconds: one of the TSDB's ranges (2h x 3^k), as promtool rounds down to one
MAX_POINTS = 11_000  # Prometheus refuses a query_range of more points per series
CHUNK_POINTS = 10_000
LIFETIME = 3600.0  # a month of history takes minutes to query, not an hour

Matrix = dict[Labels, dict[int, float]]  # labels (without __name__) -> unix second -> value


class SourceError(Exception):
    """A source that cannot be read: one line for the user."""


def open_text(path: Path, mode: str = "r") -> IO[str]:
    """A text file, gzip-compressed when its name ends in `.gz`."""
    if path.suffix == ".gz":
        return cast(IO[str], gzip.open(path, mode + "t", compresslevel=6))
    return path.open(mode)


QUERY_TIMEOUT = 60.0  # seconds per request: a chunk of a month-long query is slow
QUERY_WORKERS = 4  # requests in flight at once: enough to keep two cores busy, gentle on a shared server


@dataclass(frozen=True)
class Source:
    """A query URL and, for a file, the first and last second it holds."""

    url: str
    first: int | None = None
    last: int | None = None
    auth: Auth = field(default_factory=Auth)

    def client(self) -> Client:
        return Client(self.url, QUERY_TIMEOUT, self.auth)


def _open_bytes(path: Path) -> IO[bytes]:
    # A buffer in front of gzip: its own line iteration costs 4x the decompression.
    if path.suffix == ".gz":
        return cast(IO[bytes], io.BufferedReader(gzip.GzipFile(path, "rb"), 1 << 20))
    return path.open("rb")


def _float_timestamp(line: bytes, path: Path, number: int) -> int:
    try:
        return int(float(line.rpartition(b" ")[2]))
    except ValueError:
        text = line.decode(errors="replace").strip()[:80]
        raise SourceError(f"{path}:{number}: not OpenMetrics with timestamps: {text}") from None


class _Splitter:
    """Lines sorted into per-window files, each window's lines buffered: a file written
    series by series keeps hitting the same window, and a week is ~2 million lines."""

    FLUSH = 20_000

    def __init__(self, into: Path) -> None:
        self.into = into
        self.buffers: dict[int, list[bytes]] = {}
        self.family: dict[int, bytes] = {}
        self.files: dict[int, IO[bytes]] = {}

    def buffer(self, window: int, family: bytes) -> list[bytes]:
        """The lines waiting for `window`'s file, ending with `family`'s `# TYPE` line:
        the caller appends the family's samples to it until the window or family changes."""
        buffer = self.buffers.get(window)
        if buffer is None:
            buffer = self.buffers[window] = []
        if self.family.get(window) is not family:
            buffer.append(family)
            self.family[window] = family
        return buffer

    def flush(self, window: int) -> None:
        """Write the window's lines; its buffer is emptied in place, so a caller's
        reference to it stays the buffer."""
        out = self.files.get(window)
        if out is None:
            out = self.files[window] = (self.into / f"{window}.om").open("wb")
        out.writelines(self.buffers[window])
        self.buffers[window].clear()

    def close(self) -> list[Path]:
        for window in list(self.buffers):
            self.buffers[window].append(b"# EOF\n")
            self.flush(window)
        for out in self.files.values():
            out.close()
        return [self.into / f"{w}.om" for w in sorted(self.files)]


def split_blocks(path: Path, into: Path) -> tuple[list[Path], int, int]:
    """One OpenMetrics file per block window, each with the `# TYPE` lines it needs, and
    the first and last timestamp of the file."""
    splitter = _Splitter(into)
    first, last = 2**62, -1
    family = b""
    lo = hi = 0  # the window of the previous line, whose lines go to `buffer`
    buffer: list[bytes] = []
    # Millions of lines: the loop is kept to a few operations a line (no call but the
    # parse of the timestamp) and goes back to the splitter only when the window changes.
    try:
        with _open_bytes(path) as src:
            for number, line in enumerate(src, 1):
                if line[:1] == b"#":
                    if line.startswith(b"# TYPE"):
                        family = line
                        hi = lo  # the next sample asks for its buffer again, with this family
                    continue
                try:
                    ts = int(line[line.rfind(b" ") + 1 :])
                except ValueError:
                    if not line.strip():
                        continue
                    ts = _float_timestamp(line, path, number)
                if ts < first:
                    first = ts
                if ts > last:
                    last = ts
                if not lo <= ts < hi:
                    lo = ts - ts % BLOCK
                    hi = lo + BLOCK
                    buffer = splitter.buffer(lo, family)
                buffer.append(line)
                if len(buffer) >= _Splitter.FLUSH:
                    splitter.flush(lo)
    except (OSError, EOFError) as exc:
        raise SourceError(f"{path}: not an OpenMetrics file ({exc})") from None
    finally:
        parts = splitter.close()
    if last < 0:
        raise SourceError(f"{path}: no samples")
    return parts, first, last


def _create_blocks(chunk: Path, data: Path) -> None:
    done = subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "-q",
            f"--max-block-duration={BLOCK}s",
            str(chunk),
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    chunk.unlink()
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["promtool failed"])[-1]
        raise SourceError(f"{chunk.name}: not OpenMetrics that promtool reads: {message}")


class HistoryServer(Prometheus):
    """The Debian Prometheus over a TSDB built from an OpenMetrics file in its own temp
    dir (blocks are created once the engine has made the dir, before the server starts)."""

    def __init__(self, path: Path, workers: int = 2) -> None:
        # Blocks older than the default 15 d retention would be deleted at start; and a
        # compaction of the blocks, a minute after the start, would compete with the
        # queries for the CPU (the TSDB compacts nothing when both durations are equal).
        flags = ["--storage.tsdb.retention.time=100y"]
        flags += ["--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h"]
        super().__init__(flags=flags, lifetime=LIFETIME)
        self.path, self.workers = path, workers
        self.first, self.last = 0, 0

    def args(self) -> list[str]:
        chunks, data = self.dir / "chunks", self.dir / "data"
        chunks.mkdir()
        data.mkdir()
        parts, self.first, self.last = split_blocks(self.path, chunks)
        with ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(lambda c: _create_blocks(c, data), parts))
        return super().args()


@contextmanager
def openmetrics_server(path: Path, workers: int = 2) -> Iterator[Source]:
    """A Prometheus serving the history in `path`; stopped and removed on exit."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    try:
        with HistoryServer(path, workers) as server:
            yield Source(server.url, server.first, server.last)
    except EngineError as exc:
        raise SourceError(str(exc).splitlines()[0]) from None


@contextmanager
def open_source(source: str, auth: Auth | None = None) -> Iterator[Source]:
    """A query URL for `source`: an http(s) URL as is (with `auth`), or a file served
    locally."""
    if source.startswith(("http://", "https://")):
        yield Source(source.rstrip("/"), auth=auth or Auth())
        return
    with openmetrics_server(Path(source)) as served:
        yield served


def _get(client: Client, path: str, params: list[tuple[str, str]], retries: int = 3) -> Any:
    """The JSON answer to one GET, retried with backoff while the server cannot be
    reached; an answer that refuses the request (a bad token, a query it rejects) is
    not retried."""
    for attempt in range(retries):
        try:
            return client.get(path, params)
        except ApiError as exc:
            raise SourceError(f"{client.url}{exc}") from None
        except Unreachable as exc:
            if attempt == retries - 1:
                raise SourceError(f"unreachable: {exc}") from None
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def strip_name(metric: dict[str, str]) -> Labels:
    return tuple(sorted((k, v) for k, v in metric.items() if k != "__name__"))


def query_range(client: Client, expr: str, start: int, end: int, step: int) -> Matrix:
    """`expr` at every step in [start, end], in chunks under the points limit."""
    out: Matrix = {}
    at = start
    while at <= end:
        until = min(end, at + (CHUNK_POINTS - 1) * step)
        params = [("query", expr), ("start", str(at)), ("end", str(until)), ("step", str(step))]
        body = _get(client, "/api/v1/query_range", params)
        for series in body["data"]["result"]:
            values = out.setdefault(strip_name(series["metric"]), {})
            for ts, value in series["values"]:
                values[int(ts)] = float(value)
        at = until + step
    return out
