"""`rulesgen verify`: every live check against one server, in a fixed order.

A check the server cannot answer (Thanos and VictoriaMetrics have no
`/api/v1/status/config`, a Prometheus without rules has nothing to compare) becomes an
RG300 note and the others go on; a server that cannot be reached at all stops the run
(Unreachable, exit 2)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Iterator

from rulesgen.verify.checks import drift, firing, limits, series
from rulesgen.verify.client import ApiError
from rulesgen.verify.context import Context
from rulesgen.verify.findings import Finding

Check = Callable[[Context], Iterator[Finding]]

CHECKS: dict[str, Check] = {
    "series": series.check,
    "scrape": limits.check_scrapes,
    "retention": limits.check_retention,
    "rules": drift.check_rules,
    "alertmanager": drift.check_alertmanager,
    "firing": firing.check_firing,
    "near": firing.check_near,
}


def _progress(text: str) -> None:
    """One line, rewritten in place, on a terminal only (never in a log or a pipe)."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\033[Kverify: {text}" if text else "\r\033[K")
        sys.stderr.flush()


def verify(ctx: Context, skip: Collection[str] = ()) -> list[Finding]:
    findings: list[Finding] = []
    checks = [(name, check) for name, check in CHECKS.items() if name not in skip]
    for i, (name, check) in enumerate(checks, 1):
        _progress(f"{name} ({i}/{len(checks)})")
        try:
            findings.extend(check(ctx))
        except ApiError as exc:
            server = ctx.alertmanager if name == "alertmanager" and ctx.alertmanager else ctx.prometheus.client
            findings.append(Finding(server.url, "RG300", f"{name} not checked: {exc}", name))
    _progress("")
    return sorted(set(findings), key=Finding.order)
