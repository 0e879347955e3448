"""Multi-window, multi-burn-rate SLO alerts on an error ratio (Google SRE workbook, ch. 5)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from rulesgen import conventions
from rulesgen.errors import Path
from rulesgen.ir import All, Compare, ErrorBudget, Labels, Quantity
from rulesgen.kinds.base import (
    AlertModel,
    AlertVariant,
    CompileContext,
    ExactCounters,
    Invariants,
    KindRules,
    Resolve,
    SelectorUse,
    summed_by,
)
from rulesgen.kinds.ratio import MinEvents, level_counts, put_ratio, ratio_atoms, ratio_expr
from rulesgen.kinds.toolkit import HISTORY, IDLE, SAFE, ForEdge, Phase, edge_evaluation
from rulesgen.model.series import LOOKBACK, Group, SeriesSet
from rulesgen.promql import Duration, number
from rulesgen.spec.models import Identifier, LabelName, MetricType, PositiveDuration, SelectorSpec, StrictModel


class Tier(StrictModel):
    """Both windows must burn faster than `factor` times the budget for the tier to fire."""

    tier: Literal["page", "ticket"]
    factor: float = Field(gt=0)
    long: PositiveDuration
    short: PositiveDuration
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


TILE = Duration.parse("1h")
# The SLO period the tiers are designed on (the workbook's: 14.4x for 1h uses 2% of a
# 30-day budget). Nothing in the rules reads it; the backtest reports budget used in it.
SLO_PERIOD = Duration.parse("30d")

# The workbook's recommendation: 2% of a 30-day budget in 1h, 5% in 6h page;
# 10% in 3d tickets. `for` values follow kubernetes-mixin.
DEFAULT_TIERS = (
    _tier("page", 14.4, "1h", "5m", "2m"),
    _tier("page", 6, "6h", "30m", "15m"),
    _tier("ticket", 3, "1d", "2h", "1h"),
    _tier("ticket", 1, "3d", "6h", "3h"),
)


class BurnRate(ExactCounters, MinEvents, AlertModel):
    """Pages when the error budget of `objective` burns fast, tickets when it burns slowly.

    Every window's error ratio divides events counted exactly in that window
    (`CompileContext.counted`): two instant lookups per series, so a 3d window reads
    two samples a series rather than three days of them."""

    invariants: ClassVar[Invariants] = Invariants(exact_counters=True)

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

    def error_ratio(self, ctx: CompileContext, window: Duration) -> tuple[str, str]:
        """The recorded error ratio of `window`, and the count of all events it divides by."""
        quantity = self.quantity or conventions.snake(self.name)
        tiled = window in self.tiled_windows()

        def count(sel: SelectorSpec) -> str:
            if tiled:
                return ctx.tiled(sel, window, TILE, self.by, self.births)
            return ctx.counted(sel, window, self.by, self.births)

        num, den = count(self.errors), count(self.total)
        name = conventions.record_name(self.by, quantity, conventions.window_op("ratio_rate", window))
        return ctx.record(name, ratio_expr(num, [den])), den

    def tiled_windows(self) -> frozenset[Duration]:
        """Windows read by ticket tiers alone, counted in whole hours (`CompileContext.tiled`).

        A ticket tier may learn of a burn up to an hour late: its windows are a day or
        more and its `for` an hour or more. A page tier may not, so every window a page
        tier reads is counted from raw samples, as is a window of an hour or less."""
        paged = {w for t in self.tiers if t.tier == "page" for w in (t.long, t.short)}
        return frozenset(w for w in self._windows() if w not in paged and w > TILE and w.ms % TILE.ms == 0)

    def ratio_quantity(self, expr: str, window: Duration) -> Quantity:
        return Quantity(
            expr=expr,
            unit="ratio",
            what=f"rate of {self.errors.metric} / rate of {self.total.metric} over {window}{summed_by(self.by)}",
            function="ratio_rate",
            window=window,
        )

    def compile(self, ctx: CompileContext) -> KindRules:
        variants: list[AlertVariant] = []
        for tier in self.tiers:
            (long, events), (short, _) = self.error_ratio(ctx, tier.long), self.error_ratio(ctx, tier.short)
            value = self.limit(tier)
            limit = number(value)
            param = f"tiers[{len(variants)}].factor"
            floor = self.event_floor(events, tier.long, f"events of {self.total.metric} in {tier.long}")
            condition = All(
                (
                    *(
                        Compare(self.ratio_quantity(expr, window), ">", value, param)
                        for expr, window in ((long, tier.long), (short, tier.short))
                    ),
                    *floor,
                )
            )
            variants.append(
                AlertVariant(
                    expr=self.enough_events(f"{long} > {limit} and {short} > {limit}", events, self.by),
                    condition=condition,
                    template_vars=(("long_window", str(tier.long)), ("short_window", str(tier.short))),
                    labels=(
                        ("long_window", str(tier.long)),
                        ("short_window", str(tier.short)),
                        ("slo_tier", tier.tier),
                    ),
                    severity=self.severity if tier.tier == "page" else self.ticket_severity,
                    for_=tier.for_,
                    budget=ErrorBudget(self.objective, SLO_PERIOD, tier.long),
                )
            )
        return ctx.rules(variants)

    def default_description(self) -> str:
        return (
            f"Error ratio {self.humanized_value()}{self.scope_text()} is burning the "
            f"{number(self.objective * 100)}% objective's error budget "
            "[[ long_window ]]/[[ short_window ]] too fast."
        )

    # --- scenarios --------------------------------------------------------------------
    # Healthy traffic burns at half the slowest tier's rate. Each tier has a breach level
    # burning 5% faster than that tier allows (a mutation raises factors by 10%).

    SCALE: ClassVar[int] = 1_000_000

    def counting_windows(self) -> tuple[Duration, ...]:
        return tuple(self._windows())

    def history_for(self, window: Duration) -> Duration:
        # The tiers that read `window` fire once their long windows count.
        return max((t.long for t in self.tiers if window in (t.long, t.short)), default=window)

    def _windows(self) -> list[Duration]:
        return sorted({w for tier in self.tiers for w in (tier.long, tier.short)})

    def scenario_step(self) -> Duration:
        step = Duration.parse("5m").ms
        for window in self._windows():
            step = math.gcd(step, window.ms)
        return Duration(step)

    # A window counts nothing until the metric has existed for that long (a Prometheus
    # that has just started does not count lifetime totals), so every scenario opens
    # with the longest window of idle counters (series at 0, no events). The windows
    # then hold only what follows, so a partial window holds the exact ratio and a
    # breach trips every tier after its `for`: hours after the idle history, not days.
    def history(self, step: Duration) -> int:
        """Steps of idle counters every scenario opens with."""
        return -(-max(self._windows()).ms // step.ms)

    def warmup(self, step: Duration) -> int:
        return self.history(step) + 2

    def evaluation_step(self) -> Duration:
        # Every rule of a burn-rate alert reads windows of hours to days: evaluating
        # them every few hours keeps three days of tests cheap (the `for` edges pin each
        # `for` finely). At most the shortest long window, though: a tier's crossing
        # scenario needs its long window to hold two halves of an evaluation.
        step = self.scenario_step().ms
        every = min(3 * 3_600_000, min(tier.long.ms for tier in self.tiers))
        return Duration(step * max(every // step, 1))

    def horizon(self, step: Duration) -> int:
        # The long window still holds the warm-up's healthy traffic: at half the
        # threshold before and 1.05x after, the mix crosses after ~10x the warm-up.
        warm = self.warmup(step) - self.history(step)
        return max(-(-(t.for_.ms + t.short.ms) // step.ms) for t in self.tiers) + 12 + 12 * warm

    def limit(self, tier: Tier) -> float:
        """The error ratio a tier fires above, as the decimal the SRE means: computed in
        PromQL, 14.4 * (1 - 0.99) is 0.14400000000000013, which no ratio of counts a
        test (or anyone) can write lands on, so `>` and `>=` could not be told apart."""
        return round(tier.factor * (1 - self.objective), 12)

    def boundary_scenarios(self, warm: int, every: int) -> list[tuple[str, list[Phase]]]:
        """Per tier, an error ratio that crosses the tier's limit exactly on an evaluation,
        once through each window: first `d` under the limit for X steps, then `d` over
        it, so the long window (holding both halves) sits exactly on the limit at step
        2X while the short one is already over, and the tier goes pending one evaluation
        later; then exactly on the limit, so the short window lands on it while the long
        one is still over, and the tier resolves. A `>=` or a limit nudged toward firing
        on either window moves those evaluations, as does dropping either side of `and`."""
        out = []
        step = self.scenario_step()
        half = max(every // 2, 1)
        for i, tier in enumerate(self.tiers):
            # Idle history as long as the tier's long window, the longest it reads: the
            # longer tiers' windows count nothing meanwhile, and three idle days of
            # hourly evaluations in front of an hour's window would prove nothing more.
            history = -(-tier.long.ms // step.ms)
            short = -(-tier.short.ms // step.ms)
            # X holds the short window and more than a quarter of the long one, so a long
            # window halved holds the over half alone at 2X; 2X is an evaluation.
            quarter = tier.long.ms // 4 // step.ms + 1
            x = -(-max(short, quarter) // half) * half
            pending = -(-tier.for_.ms // step.ms) + 2 * every
            timeline = [
                Phase(HISTORY, history),
                Phase(f"under_{i}", x),
                Phase(f"over_{i}", x + pending),
                Phase(f"at_{i}", short + 2 * every),
            ]
            out.append((f"{tier.tier}_{tier.long}_{tier.short}_crosses_its_limit_exactly", timeline))
        return out

    def for_edges(self) -> list[ForEdge]:
        """Per tier whose `for` the hourly evaluation cannot pin down, a breach of that
        tier alone, evaluated finely: idle counters for the tier's long window (its
        windows count from then on; the longer tiers' windows count nothing yet), then
        the tier's breach until a few evaluations past its `for`."""
        out = []
        for i, tier in enumerate(self.tiers):
            every = edge_evaluation(tier.for_, Duration(60_000), self.evaluation_step(), [tier.long, tier.short])
            if every is not None:
                history = tier.long.ms // every.ms
                breach = -(-tier.for_.ms // every.ms) + 4
                timeline = (Phase(HISTORY, history), Phase(self.tier_level(i), breach))
                out.append(
                    ForEdge(f"{tier.tier}_{tier.long}_{tier.short}_for_{tier.for_}_every_{every}", timeline, every, 1)
                )
            out.extend(self._dip(i))
            out.extend(self._gap(i))
        return out

    def _window_evaluation(self, tier: Tier) -> Duration | None:
        """The coarsest evaluation interval that divides both windows and fits four
        times in the short one (None: none does)."""
        steps = (Duration.parse(d) for d in ("3h", "1h", "30m", "15m", "5m", "1m"))
        fits = [d for d in steps if 4 * d.ms <= tier.short.ms and tier.short.ms % d.ms == 0]
        return next((d for d in fits if d <= self.evaluation_step() and tier.long.ms % d.ms == 0), None)

    def _gap(self, index: int) -> list[ForEdge]:
        """A tier's breach interrupted by a scrape outage of half its short window past
        the lookback: afterwards the short window looks back into the outage and counts
        nothing for a while (it cannot tell events from lifetime totals there), while
        the long one still counts. The tier pages again `for` after the short window
        has data on both ends; a rule that counts a series whole where the window has
        no sample of the metric, or looks for one at half or twice the window, pages early."""
        tier = self.tiers[index]
        every = self._window_evaluation(tier)
        if every is None:
            return []
        evaluations = -(-tier.for_.ms // every.ms) + 4
        history = tier.long.ms // every.ms
        gap = -(-(LOOKBACK.ms + tier.short.ms // 2) // every.ms)
        short = tier.short.ms // every.ms
        breach = Phase(self.tier_level(index), evaluations + gap + short + evaluations)
        name = f"{tier.tier}_{tier.long}_{tier.short}_scrape_outage_every_{every}"
        return [
            ForEdge(name, (Phase(HISTORY, history), breach), every, 1, births=False, gap=(history + evaluations, gap))
        ]

    def _dip(self, index: int) -> list[ForEdge]:
        """A tier's short window told from its half and its double: a surge at three
        times the limit (the long window stays over it from then on), a healthy dip of
        three short windows (every short window empties, so the tier resolves), then
        the tier's breach, whose short window crosses the limit about one short window
        later. Evaluated every quarter of the short window at least."""
        tier = self.tiers[index]
        every = self._window_evaluation(tier)
        if every is None:
            return []
        short = tier.short.ms // every.ms
        timeline = (
            Phase(HISTORY, tier.long.ms // every.ms),
            Phase(f"surge_{index}", 4 * short),
            Phase(SAFE, 3 * short),
            Phase(self.tier_level(index), 2 * short + -(-tier.for_.ms // every.ms) + 4),
        )
        name = f"{tier.tier}_{tier.long}_{tier.short}_dips_under_its_short_window_every_{every}"
        return [ForEdge(name, timeline, every, 1, births=False)]

    def tier_level(self, index: int) -> str:
        tier = self.tiers[index]
        return f"breach_{tier.tier}_{tier.long}_{tier.short}"

    def firing_levels(self) -> tuple[str, ...]:
        return tuple(self.tier_level(i) for i in range(len(self.tiers)))

    def variant_fors(self) -> list[Duration]:
        return [tier.for_ for tier in self.tiers]

    def without_for(self) -> BurnRate:
        tiers = [tier.model_copy(update={"for_": Duration(0)}) for tier in self.tiers]
        return self.model_copy(update={"for_": Duration(0), "tiers": tiers})

    def nudged(self) -> BurnRate:
        tiers = [tier.model_copy(update={"factor": tier.factor * 1.1}) for tier in self.tiers]
        return self.model_copy(update={"tiers": tiers})

    def synthesize(self, sim: SeriesSet, resolve: Resolve, scope: dict[str, str], timeline: Sequence[Phase]) -> None:
        atoms = ratio_atoms(self.errors, [self.total], resolve, scope)
        budget = 1 - self.objective
        slowest = min(t.factor for t in self.tiers) * budget
        counts = {SAFE: level_counts(round(slowest / 2 * self.SCALE), self.SCALE, atoms[2]), IDLE: (0, 0)}
        for i, tier in enumerate(self.tiers):
            errors = math.ceil(tier.factor * budget * 1.05 * self.SCALE)
            counts[self.tier_level(i)] = level_counts(min(errors, self.SCALE), self.SCALE, atoms[2])
            surge = math.ceil(3 * self.limit(tier) * self.SCALE)
            counts[f"surge_{i}"] = level_counts(min(surge, self.SCALE), self.SCALE, atoms[2])
            # Half the step a mutation nudges the limit by, either side of it (whole counts).
            at = round(self.limit(tier) * self.SCALE)
            d = max(round(min(0.01, self.limit(tier) / 10) / 2 * self.SCALE), 1)
            for level, errors in ((f"under_{i}", at - d), (f"over_{i}", at + d), (f"at_{i}", at)):
                counts[level] = level_counts(min(max(errors, 0), self.SCALE), self.SCALE, atoms[2])
        # The first `history` steps are idle whatever the timeline says (see `history`),
        # unless it opens with a history of its own.
        history = timeline[0].steps if timeline and timeline[0].level == HISTORY else self.history(sim.step)
        idle, rest, left = history, [], history
        for phase in timeline:
            cut = min(left, phase.steps)
            left -= cut
            if phase.steps > cut:
                rest.append(Phase(phase.level, phase.steps - cut))
        put_ratio(sim, atoms, [Phase(IDLE, idle), *rest], counts, 1)

    def _counts(self, sim: SeriesSet, sel: SelectorSpec, resolve: Resolve, window: Duration) -> list[Group]:
        if window in self.tiled_windows():
            return sim.tiled(sim.increase(sel.metric, resolve(sel), self.by, TILE, self.births), window, TILE)
        return sim.increase(sel.metric, resolve(sel), self.by, window, self.births)

    def evaluate(self, sim: SeriesSet, resolve: Resolve) -> list[list[dict[Labels, float]]]:
        # Only evaluation steps hold counts (`SeriesSet` skips the rest, and the planner
        # reads only those): ratios are divided there alone, and the other steps share
        # one list of silent tiers, rather than a dozen dictionaries per 5-minute
        # sample of a three-day scenario evaluated hourly.
        steps = sim.evaluated()
        ratios: dict[Duration, dict[int, dict[Labels, float]]] = {}
        # Only with `min_events` do the rules keep the groups with enough events.
        busy: dict[Duration, dict[int, set[Labels]] | None] = {}
        for window in self._windows():
            # Counts, not rates: the rules divide counts, and a ratio of whole counts is
            # exactly the float of the fraction, on the limit when the fraction is.
            errs, tots = (self._counts(sim, sel, resolve, window) for sel in (self.errors, self.total))
            ratios[window] = {
                i: {k: v / tots[i][k] for k, v in errs[i].items() if tots[i].get(k, 0) > 0} for i in steps
            }
            busy[window] = {i: self.busy(tots[i]) for i in steps} if self.min_events is not None else None
        silent: list[dict[Labels, float]] = [{} for _ in self.tiers]
        out = [silent] * sim.length
        tiers = [(ratios[t.long], ratios[t.short], busy[t.long], self.limit(t)) for t in self.tiers]
        for i in steps:
            out[i] = [
                {
                    k: v
                    for k, v in long[i].items()
                    if v > limit and short[i].get(k, 0) > limit and (enough is None or k in enough[i])
                }
                for long, short, enough, limit in tiers
            ]
        return out
