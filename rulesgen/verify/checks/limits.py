"""Are the windows possible on this server? Each window must hold at least 4 scrapes of
the jobs that expose its metric (`/api/v1/status/config`), and each window plus offset
must fit in the retention (`/api/v1/status/runtimeinfo`, else the retention flag)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import yaml

from rulesgen.promql import Duration
from rulesgen.verify.client import ApiError
from rulesgen.verify.context import Context
from rulesgen.verify.findings import Finding

MIN_SCRAPES = 4
DEFAULT_SCRAPE_INTERVAL = 60.0  # Prometheus's default global scrape_interval


def _seconds(text: str) -> float | None:
    try:
        return Duration.parse(text.strip()).seconds
    except ValueError:
        return None


def _text(seconds: float) -> str:
    return str(Duration(int(seconds * 1000)))


def scrape_intervals(config_yaml: str) -> dict[str, float]:
    """Scrape interval per job name, from the server's configuration."""
    config: dict[str, Any] = yaml.safe_load(config_yaml) or {}
    default = _seconds(str((config.get("global") or {}).get("scrape_interval", ""))) or DEFAULT_SCRAPE_INTERVAL
    return {
        str(job.get("job_name")): _seconds(str(job.get("scrape_interval", ""))) or default
        for job in config.get("scrape_configs") or []
    }


def check_scrapes(ctx: Context) -> Iterator[Finding]:
    intervals = scrape_intervals(ctx.prometheus.config_yaml())
    metrics = {read.metric for _, read in ctx.raw_reads()}
    if not metrics or not intervals:
        return
    names = '{__name__=~"' + "|".join(sorted(metrics)) + '"}'
    jobs: dict[str, set[str]] = defaultdict(set)
    for sample in ctx.prometheus.query(f"count by (__name__, job) ({names})"):
        jobs[sample.labels.get("__name__", "")].add(sample.labels.get("job", ""))
    seen: set[tuple[str, float]] = set()
    for rule, read in ctx.raw_reads():
        # A counted window is `m - m offset W`: the offset is the window there.
        window = read.range_s or read.offset_s
        scrape = max((intervals[j] for j in jobs.get(read.metric, ()) if j in intervals), default=None)
        if not window or scrape is None or window >= MIN_SCRAPES * scrape or (read.metric, window) in seen:
            continue
        seen.add((read.metric, window))
        yield Finding(
            place=rule.place,
            code="RG306",
            subject=read.metric,
            message=f"{rule.name} reads {read.metric} over {_text(window)}, {window / scrape:g} scrape(s) at "
            f"the {_text(scrape)} scrape interval (at least {MIN_SCRAPES} are needed)",
            spec=ctx.deployed.spec_place(rule.name) or ctx.metric_origin(read.metric),
        )


def retention(ctx: Context) -> float | None:
    """The time-based retention in seconds; None when the server does not say."""
    try:
        text = str(ctx.prometheus.runtime_info().get("storageRetention", ""))
    except ApiError:
        text = ""
    if not text:
        text = ctx.prometheus.flags().get("storage.tsdb.retention.time", "")
    # "15d", or "15d or 10GiB" when a size limit is set too.
    seconds = _seconds(text.split(" or ")[0]) if text else None
    return seconds or None


def check_retention(ctx: Context) -> Iterator[Finding]:
    keep = retention(ctx)
    if keep is None:
        return
    seen: set[tuple[str, float]] = set()
    for rule, read in ctx.rule_reads():
        reach = read.range_s + read.offset_s
        if reach <= keep or (read.metric, reach) in seen:
            continue
        seen.add((read.metric, reach))
        yield Finding(
            place=rule.place,
            code="RG307",
            subject=read.metric,
            message=f"{rule.name} reads {read.metric} {_text(reach)} back, beyond the server's retention of "
            f"{_text(keep)}",
            spec=ctx.deployed.spec_place(rule.name) or ctx.metric_origin(read.metric),
        )
