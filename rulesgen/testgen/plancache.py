"""Plans kept on disk by content, so that a command run again on a spec whose alert
did not change does not simulate its scenarios again (planning is most of what every
compile costs: `validate`, `check`, `lint`, `explain` and `generate` all plan).

An entry's name is the SHA-256 of everything a plan depends on: rulesgen's own source
(any change to the code, a kind or the model is a new cache), the alert's plan key
(its fields but naming and routing) and the spec-wide inputs the planner reads (label
sets, metric labels, the values other alerts name). Entries are JSON, never pickle:
reading one cannot run code; one that does not decode is a miss. Where: the directory
`RULESGEN_CACHE_DIR` names (`off` disables the cache), else `$XDG_CACHE_HOME/rulesgen`,
else `~/.cache/rulesgen`."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import suppress
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from rulesgen.ir import InputSeries, Run
from rulesgen.model.alertstate import Firing
from rulesgen.promql import Duration
from rulesgen.testgen.simulation import Plan, PlannedCheck

FORMAT = 1
# Caches of older rulesgen sources are removed after this long unused.
KEEP_SECONDS = 7 * 24 * 3600
PACKAGE = Path(__file__).resolve().parent.parent


@cache
def code_version() -> str:
    """A hash of rulesgen's Python sources, and of the Python and libraries that run
    them: plans of another version are never read."""
    libraries = [f"{name}={version(name)}" for name in ("pydantic", "promql-parser", "PyYAML")]
    digest = hashlib.sha256(repr((FORMAT, sys.version_info[:3], libraries)).encode())
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def cache_root() -> Path | None:
    configured = os.environ.get("RULESGEN_CACHE_DIR")
    if configured is not None:
        return None if configured in ("", "off") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rulesgen"


class PlanCache:
    """Plans by content key; every failure to read or write is a miss, never an error."""

    def __init__(self, root: Path | None, context: Mapping[str, Any]) -> None:
        self.dir = root / "plans" / code_version() if root is not None else None
        self.context = json.dumps(context, sort_keys=True)
        self.hits = 0
        self.misses = 0

    def key(self, plan_key: str) -> str:
        return hashlib.sha256(f"{self.context}\0{plan_key}".encode()).hexdigest()

    def get(self, plan_key: str) -> tuple[Plan, ...] | None:
        plans = None
        if self.dir is not None:
            with suppress(OSError, ValueError, TypeError, KeyError, zlib.error):
                plans = decode(json.loads(zlib.decompress((self.dir / self.key(plan_key)).read_bytes())))
        if plans is None:
            self.misses += 1
        else:
            self.hits += 1
        return plans

    def put(self, plan_key: str, plans: tuple[Plan, ...]) -> None:
        if self.dir is None:
            return
        with suppress(OSError):
            fresh = not self.dir.exists()
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            if fresh:
                _forget_old(self.dir.parent)
            data = zlib.compress(json.dumps(encode(plans), separators=(",", ":")).encode(), 1)
            # Written whole or not at all: a concurrent reader sees the old entry or none.
            with tempfile.NamedTemporaryFile(dir=self.dir, delete=False, prefix=".tmp-") as out:
                out.write(data)
            os.replace(out.name, self.dir / self.key(plan_key))


def _forget_old(versions: Path) -> None:
    """Remove the caches of rulesgen versions unused for KEEP_SECONDS."""
    now = time.time()
    for old in versions.iterdir():
        with suppress(OSError):
            if now - old.stat().st_mtime > KEEP_SECONDS:
                for entry in old.iterdir():
                    entry.unlink()
                old.rmdir()


def encode(plans: tuple[Plan, ...]) -> list[Any]:
    return [
        [
            p.name,
            p.purpose,
            p.step.ms,
            p.eval_step.ms,
            [[s.metric, s.labels, [[r.start, r.delta, r.count] for r in s.runs]] for s in p.series],
            [[c.step, [[f.labels, f.value, f.variant] for f in c.firing]] for c in p.checks],
        ]
        for p in plans
    ]


def decode(data: list[Any]) -> tuple[Plan, ...]:
    return tuple(
        Plan(
            name,
            purpose,
            Duration(step),
            tuple(InputSeries(m, _labels(labels), tuple(Run(*r) for r in runs)) for m, labels, runs in series),
            tuple(PlannedCheck(at, tuple(Firing(_labels(lb), v, n) for lb, v, n in firing)) for at, firing in checks),
            Duration(eval_step),
        )
        for name, purpose, step, eval_step, series, checks in data
    )


def _labels(pairs: list[list[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in _pairs(pairs))


def _pairs(pairs: list[list[str]]) -> Iterator[tuple[str, str]]:
    for k, v in pairs:
        yield str(k), str(v)
