"""promtool's passes remembered by content (`rulesgen.cache`), so that `rulesgen test`
runs each proof once: a test file that passed against the same rules with the same
promtool passes again, and is not run again. The key is the rule file promtool reads
(the alert's rule closure, as deployed), the committed test file and promtool itself
(its path, size and modification time, and the version it reports: an upgrade is a new
promtool). Failures are never remembered: a failing file runs every time and says why."""

from __future__ import annotations

import hashlib

from rulesgen.cache import Cache, key_of, tool_identity

PASSED = b"passed"


def promtool_identity(path: str, timeout: float) -> str:
    """What keys promtool's passes; "" (nothing is remembered) without a cache, or when
    promtool does not say its version in time."""
    if not Cache("verdicts").enabled:
        return ""
    return tool_identity(path, timeout)


def verdict_key(promtool: str, rules: bytes, test: bytes) -> str:
    return key_of(promtool, hashlib.sha256(rules).hexdigest(), hashlib.sha256(test).hexdigest())


def passed_before(key: str) -> bool:
    return Cache("verdicts").get(key) == PASSED


def remember_pass(key: str) -> None:
    Cache("verdicts").put(key, PASSED)
