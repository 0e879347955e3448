"""What every live check reads: the deployed output, the server's API and the options."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from rulesgen.verify.client import Client, PrometheusAPI
from rulesgen.verify.deployed import Deployed, Rule
from rulesgen.verify.selectors import Read, reads

# `ALERTS` and `ALERTS_FOR_STATE` are Prometheus's own series about alert rules.
BUILTIN = {"ALERTS", "ALERTS_FOR_STATE"}


@dataclass
class Context:
    deployed: Deployed
    prometheus: PrometheusAPI
    alertmanager: Client | None = None
    lookback_s: float = 7 * 86400.0
    step_s: float = 300.0
    min_age_s: float = 2 * 3600.0
    near: float = 0.1
    notes: list[str] = field(default_factory=list)

    def rule_reads(self) -> Iterator[tuple[Rule, Read]]:
        """Every selector of every deployed rule, with its rule."""
        for rule in self.deployed.rules:
            for read in reads(rule.expr):
                yield rule, read

    def raw_reads(self) -> Iterator[tuple[Rule, Read]]:
        """The selectors of scraped metrics: not recording rules, not Prometheus's own."""
        records = self.deployed.records
        for rule, read in self.rule_reads():
            if read.metric not in records and read.metric not in BUILTIN:
                yield rule, read

    def metric_origin(self, metric: str) -> str:
        """Where the spec's catalog declares a metric (its histogram for `_bucket`)."""
        catalog = self.deployed.expectations.get("metrics", {})
        for name in (metric, *(metric.removesuffix(s) for s in ("_bucket", "_count", "_sum"))):
            if name in catalog:
                return str(catalog[name].get("origin", ""))
        return ""
