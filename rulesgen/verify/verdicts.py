"""promtool's passes remembered by content (`rulesgen.cache`), so that `rulesgen test`
runs each proof once: a test file that passed against the same rules with the same
promtool passes again, and is not run again. The key is the rule file promtool reads
(the alert's rule closure, as deployed), the committed test file and promtool itself
(its path, size and modification time: an upgrade is a new promtool). Failures are
never remembered: a failing file runs every time and says why."""

from __future__ import annotations

import hashlib
import os

from rulesgen.cache import Cache, key_of

PASSED = b"passed"


def promtool_identity(path: str) -> str:
    stat = os.stat(path)
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


def verdict_key(promtool: str, rules: bytes, test: bytes) -> str:
    return key_of(promtool, hashlib.sha256(rules).hexdigest(), hashlib.sha256(test).hexdigest())


def passed_before(key: str) -> bool:
    return Cache("verdicts").get(key) == PASSED


def remember_pass(key: str) -> None:
    Cache("verdicts").put(key, PASSED)
