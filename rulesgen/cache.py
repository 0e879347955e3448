"""rulesgen's cache on disk: results kept by content, under a directory per version of
rulesgen's sources, so that a command run again on what it already saw does not
compute it again. Entries are named by the SHA-256 of what they depend on; reading
one that is missing or damaged is a miss, and every failure to write is ignored: the
cache can make a command faster, never change what it does.

Where: the directory `RULESGEN_CACHE_DIR` names (`off` disables the cache), else
`$XDG_CACHE_HOME/rulesgen`, else `~/.cache/rulesgen`; but where `CI` is set (GitHub
Actions, GitLab CI and most others set it) only the directory `RULESGEN_CACHE_DIR`
names: a cache restored from another job, perhaps another pull request's, must not
answer `check` or `test` for this one unless the pipeline says so. Light on purpose: a
command that finds its answer here imports nothing else."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from contextlib import suppress
from functools import cache
from importlib.metadata import version
from pathlib import Path

FORMAT = 1
# Caches of other rulesgen sources are removed after this long unused.
KEEP_SECONDS = 7 * 24 * 3600
PACKAGE = Path(__file__).resolve().parent


@cache
def code_version() -> str:
    """A hash of rulesgen's Python sources, and of the Python and libraries that run
    them: entries of another version are never read."""
    libraries = [f"{name}={version(name)}" for name in ("pydantic", "promql-parser", "PyYAML", "grafanalib")]
    digest = hashlib.sha256(repr((FORMAT, sys.version_info[:3], libraries)).encode())
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def cache_root() -> Path | None:
    configured = os.environ.get("RULESGEN_CACHE_DIR")
    if configured is not None:
        return None if configured in ("", "off") else Path(configured)
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rulesgen"


# A tool's `--version` answers at once; one that does not must not hold up the run.
VERSION_SECONDS = 10.0


def tool_identity(path: str, timeout: float = VERSION_SECONDS) -> str:
    """What keys a tool's verdicts: its file (path, size, modification time) and the
    version it reports, as a version manager's shim (asdf, mise) or a wrapper script
    stays the same file when the tool behind it is upgraded; "" when it does not say
    its version in time (nothing is then remembered for it)."""
    from rulesgen import children

    try:
        stat = os.stat(path)
        said = children.run([path, "--version"], min(timeout, VERSION_SECONDS), merge=True)
    except OSError:
        return ""
    if said.returncode != 0 or not said.stdout.strip():
        return ""
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}:{said.stdout.strip()}"


def key_of(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class Cache:
    """One kind of entry (`plans`, `trees`, `results`, `verdicts`) of this version of rulesgen."""

    def __init__(self, kind: str) -> None:
        root = cache_root()
        self.root = root if root is not None and _private(root) else None
        self.dir = self.root / kind / code_version() if self.root is not None else None

    @property
    def enabled(self) -> bool:
        """Whether entries are kept: callers skip encoding what `put` would drop."""
        return self.dir is not None

    def get(self, key: str) -> bytes | None:
        if self.dir is None:
            return None
        try:
            return (self.dir / key).read_bytes()
        except OSError:
            return None

    def put(self, key: str, data: bytes) -> None:
        if self.dir is None or self.root is None:
            return
        with suppress(OSError):
            fresh = not self.dir.exists()
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)  # private before anything goes in
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            if fresh:
                _forget_old(self.dir.parent)
            # Written whole or not at all: a concurrent reader sees the old entry or none.
            with tempfile.NamedTemporaryFile(dir=self.dir, delete=False, prefix=".tmp-") as out:
                try:
                    out.write(data)
                    out.close()
                    os.replace(out.name, self.dir / key)
                except BaseException:
                    # A full disk, an entry in the way, an interrupt: no stray temporary
                    # file, which nothing would ever read or remove.
                    with suppress(OSError):
                        os.unlink(out.name)
                    raise


def _private(root: Path) -> bool:
    """Whether the cache directory is the user's alone (or not there yet: it is made
    so). Anyone else who can write into it could plant a remembered pass or tree and
    turn `test` or `check` green without running them: such a cache is not used."""
    try:
        stat = root.stat()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return stat.st_uid == os.geteuid() and not stat.st_mode & 0o022


def _forget_old(versions: Path) -> None:
    """Remove the entries of rulesgen versions unused for KEEP_SECONDS."""
    now = time.time()
    for old in versions.iterdir():
        with suppress(OSError):
            if now - old.stat().st_mtime > KEEP_SECONDS:
                for entry in old.iterdir():
                    entry.unlink()
                old.rmdir()
