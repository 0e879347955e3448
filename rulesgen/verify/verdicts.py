"""promtool's passes remembered by content (`rulesgen.cache`), so that `rulesgen test`
runs each proof once: a test file that passed against the same rules with the same
promtool passes again, and is not run again. The key is the rule file promtool reads
(the alert's rule closure, as deployed), the committed test file and promtool itself
(its path, size and modification time, and the version it reports: an upgrade is a new
promtool). Failures are never remembered: a failing file runs every time and says why."""

from __future__ import annotations

import hashlib
import os

from rulesgen import children
from rulesgen.cache import Cache, key_of

PASSED = b"passed"
# `promtool --version` answers at once; one that does not must not hold up the run.
VERSION_SECONDS = 10.0


def promtool_identity(path: str, timeout: float) -> str:
    """What keys promtool's passes; "" (nothing is remembered, and promtool is not run
    for it) without a cache, or when promtool does not say its version in time.

    The file alone is not enough: a version manager's shim (asdf, mise) or a wrapper
    script stays the same file when the promtool it runs is upgraded."""
    if Cache("verdicts").dir is None:
        return ""
    stat = os.stat(path)
    try:
        said = children.run([path, "--version"], min(timeout, VERSION_SECONDS), merge=True)
    except OSError:
        return ""
    if said.returncode != 0 or not said.stdout.strip():
        return ""
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}:{said.stdout.strip()}"


def verdict_key(promtool: str, rules: bytes, test: bytes) -> str:
    return key_of(promtool, hashlib.sha256(rules).hexdigest(), hashlib.sha256(test).hexdigest())


def passed_before(key: str) -> bool:
    return Cache("verdicts").get(key) == PASSED


def remember_pass(key: str) -> None:
    Cache("verdicts").put(key, PASSED)
