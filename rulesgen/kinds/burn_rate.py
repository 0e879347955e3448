"""Multi-window, multi-burn-rate SLO alerts on an error ratio (Google SRE workbook, ch. 5)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field, model_validator

from rulesgen import conventions
from rulesgen.errors import Path
from rulesgen.ir import Threshold
from rulesgen.kinds.base import AlertSpec, AlertVariant, CompileContext, KindRules, SelectorUse
from rulesgen.kinds.ratio import ratio_expr
from rulesgen.promql import Duration, number
from rulesgen.spec.models import Identifier, LabelName, MetricType, SelectorSpec, StrictModel


class Tier(StrictModel):
    """Both windows must burn faster than `factor` times the budget for the tier to fire."""

    tier: Literal["page", "ticket"]
    factor: float = Field(gt=0)
    long: Duration
    short: Duration
    for_: Duration = Field(default=Duration(0), alias="for")


def _tier(tier: str, factor: float, long: str, short: str, for_: str) -> Tier:
    return Tier.model_validate(
        {
            "tier": tier,
            "factor": factor,
            "long": Duration.parse(long),
            "short": Duration.parse(short),
            "for": Duration.parse(for_),
        }
    )


# The workbook's recommendation: 2% of a 30-day budget in 1h, 5% in 6h page;
# 10% in 3d tickets. `for` values follow kubernetes-mixin.
DEFAULT_TIERS = (
    _tier("page", 14.4, "1h", "5m", "2m"),
    _tier("page", 6, "6h", "30m", "15m"),
    _tier("ticket", 3, "1d", "2h", "1h"),
    _tier("ticket", 1, "3d", "6h", "3h"),
)


class BurnRate(AlertSpec):
    """Pages when the error budget of `objective` burns fast, tickets when it burns slowly."""

    kind: Literal["burn_rate"]
    errors: SelectorSpec
    total: SelectorSpec
    by: list[LabelName] = Field(default_factory=list)
    objective: float = Field(gt=0, lt=1, description="target success ratio, such as 0.99")
    ticket_severity: Identifier
    tiers: list[Tier] = Field(default_factory=lambda: list(DEFAULT_TIERS), min_length=1)
    quantity: Identifier | None = None

    @model_validator(mode="after")
    def _tiers_can_fire(self) -> BurnRate:
        budget = 1 - self.objective
        for tier in self.tiers:
            if tier.factor * budget >= 1:
                raise ValueError(
                    f"{tier.tier} tier {tier.long}/{tier.short} can never fire: {number(tier.factor)} x "
                    f"error budget {number(round(budget, 12))} = {tier.factor * budget:.4g}, "
                    "but an error ratio cannot exceed 1"
                )
            if tier.short >= tier.long:
                raise ValueError(f"tier short window {tier.short} must be shorter than long window {tier.long}")
        return self

    def selectors(self) -> Iterable[SelectorUse]:
        counters = frozenset({MetricType.counter})
        yield SelectorUse(("errors",), self.errors, counters)
        yield SelectorUse(("total",), self.total, counters)

    def grouping(self) -> tuple[str, ...]:
        return tuple(self.by)

    def value_unit(self) -> str:
        return "ratio"

    def referenced_severities(self) -> list[tuple[Path, str]]:
        return [*super().referenced_severities(), (("ticket_severity",), self.ticket_severity)]

    def error_ratio(self, ctx: CompileContext, window: Duration) -> str:
        quantity = self.quantity or conventions.snake(self.name)
        num = ctx.windowed(self.errors, "rate", window, self.by)
        den = ctx.windowed(self.total, "rate", window, self.by)
        name = conventions.record_name(self.by, quantity, conventions.window_op("ratio_rate", window))
        return ctx.record(name, ratio_expr(num, [den]))

    def compile(self, ctx: CompileContext) -> KindRules:
        budget = f"(1 - {number(self.objective)})"
        variants = []
        for tier in self.tiers:
            long, short = self.error_ratio(ctx, tier.long), self.error_ratio(ctx, tier.short)
            limit = f"({number(tier.factor)} * {budget})"
            variants.append(
                AlertVariant(
                    expr=f"{long} > {limit} and {short} > {limit}",
                    threshold=Threshold(long, ">", tier.factor * (1 - self.objective), "ratio"),
                    labels=(
                        ("long_window", str(tier.long)),
                        ("short_window", str(tier.short)),
                        ("slo_tier", tier.tier),
                    ),
                    severity=self.severity if tier.tier == "page" else self.ticket_severity,
                    for_=tier.for_,
                )
            )
        return KindRules(ctx.records, tuple(variants))

    def default_description(self) -> str:
        return (
            f"Error ratio {self.humanized_value()}{self.scope_text()} is burning the "
            f"{number(self.objective * 100)}% objective's error budget "
            "{{ $labels.long_window }}/{{ $labels.short_window }} too fast."
        )
