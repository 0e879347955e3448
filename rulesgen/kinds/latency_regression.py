"""Latency quantile now versus the same window a week earlier, with an absolute floor."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import compress
from typing import ClassVar, Literal

from pydantic import Field

from rulesgen import conventions
from rulesgen.ir import All, Compare, Labels, Quantity
from rulesgen.kinds.base import (
    AlertModel,
    AlertVariant,
    CompileContext,
    Invariants,
    KindRules,
    Resolve,
    SelectorUse,
    SingleSelector,
)
from rulesgen.kinds.toolkit import (
    BREACH,
    IDLE,
    SAFE,
    ForEdge,
    Phase,
    Sampled,
    edge_evaluation,
    filter_group,
    increments,
    satisfying_labels,
)
from rulesgen.model.series import LOOKBACK, MAX_STEPS, SeriesSet, bucket_quantile
from rulesgen.promql import Duration, aggregate, number, selector
from rulesgen.spec.models import MetricType, PositiveDuration

# A level's requests: per instance ("" for a route that has one), each step of a pattern
# repeated from the scenario's first step, as (bucket upper bound, requests) pairs.
Requests = tuple[tuple[float, float], ...]
Traffic = Mapping[str, tuple[Requests, ...]]

# A route served by two instances, one at healthy latency and one far past any breach
# (see `_mixes`). A quantile is blind to how a histogram is shared out only when every
# share has the same shape.
MIX_LABEL = "instance"
MIXED_EVEN = "mixed_even"
MIXED_LIGHT = "mixed_light"

# Levels whose quantile is a bucket bound exactly (see `_exact_share`): at the floor, at a
# baseline, at exactly the allowed regression from it, and half a percent past that.
AT_FLOOR, AT_BASE, AT_FACTOR, PAST_FACTOR = "at_floor", "at_base", "at_factor", "past_factor"
# Every request in a bucket `le="0"` (a timer too coarse to see fast requests): a quantile of 0.
ZERO = "zero"
# A rollout: the new version's histogram has one more bucket than the old one's, so the
# sum by `le` adds a different number of series in that bucket (see `_rollout_levels`).
OLD, NEW = f"{MIX_LABEL}-old", f"{MIX_LABEL}-new"
OLD_SERVES, NEW_SERVES, NEW_BREACH = "old_serves", "new_serves", "new_breach"
# Levels of a minute each, repeated every window (see `sampled_firing_scenarios`).
SPIKY, BURSTY = "spiky", "bursty"
MINUTE = Duration(60_000)


class LatencyRegression(SingleSelector, AlertModel):
    """Fires when the `quantile` latency is more than `threshold` (a fraction) above its value
    `offset` ago and above `floor`, so that tiny latencies never page."""

    kind: Literal["latency_regression"]
    quantile: float = Field(default=0.95, gt=0, lt=1)
    window: PositiveDuration = Duration.parse("5m")
    offset: PositiveDuration = Duration.parse("1w")
    threshold: float = Field(gt=0, description="0.2 fires when latency is more than 20% above the baseline")
    floor: PositiveDuration = Field(description="current latency must also exceed this (for example 100ms)")

    # Buckets of one histogram belong together, and a quantile is the same for any
    # share of a histogram: splitting the sum over methods would prove nothing.
    invariants: ClassVar[Invariants] = Invariants(sums_split=False)

    def selectors(self) -> Iterable[SelectorUse]:
        yield SelectorUse((), self.as_selector(), frozenset({MetricType.histogram}))

    def grouping(self) -> tuple[str, ...]:
        # Quantiles cannot be re-aggregated, so they are computed per matcher label too.
        return tuple(sorted(set(self.by) | set(self.matchers)))

    def value_unit(self) -> str:
        return "factor"

    def quantile_name(self) -> str:
        return "p" + f"{self.quantile * 100:g}".replace(".", "_")

    def compile(self, ctx: CompileContext) -> KindRules:
        keep = self.grouping()
        matchers = ctx.resolve(self.as_selector())
        # The quantile record reads the whole bucket record (which selects what its
        # readers need), so it is shared by every alert on this histogram at this
        # grouping, and each alert selects its own routes from it.
        buckets = ctx.windowed_record(self.as_selector(), "rate", self.window, (*keep, "le"), suffix="_bucket")
        name = conventions.record_name(
            keep, self.metric, conventions.window_op(f"{self.quantile_name()}_rate", self.window)
        )
        ctx.record(name, f"histogram_quantile({number(self.quantile)}, {buckets})")
        current = selector(name, matchers)
        factor = 1 + self.threshold
        p = self.quantile_name()
        # The baseline reads the raw buckets `offset` ago, not the record's own history:
        # a freshly deployed record has none for a week, and the alert must not wait.
        raw = selector(f"{self.metric}_bucket", matchers)
        rates = aggregate("sum", (*keep, "le"), f"rate({raw}[{self.window}] offset {self.offset})")
        baseline = f"histogram_quantile({number(self.quantile)}, {rates})"
        ratio = Quantity(
            expr=f"{current} / ({baseline} > 0)",
            unit="factor",
            what=f"{p} of {self.metric} over {self.window} divided by its value {self.offset} earlier",
            function="quantile_ratio",
            window=self.window,
        )
        now = Quantity(
            expr=current,
            unit="seconds",
            what=f"{p} of {self.metric} over {self.window}",
            function="quantile",
            window=self.window,
        )
        condition = All((Compare(ratio, ">", factor, "threshold"), Compare(now, ">", self.floor.seconds, "floor")))
        expr = f"{ratio.expr} > {number(factor)} and {current} > {number(self.floor.seconds)}"
        return ctx.rules((AlertVariant(expr, condition),))

    def default_description(self) -> str:
        return (
            f"p{self.quantile * 100:g} latency of {self.metric}{self.scope_text()} is "
            f"{self.humanized_value()} of its value {self.offset} earlier "
            f"(threshold > {number((1 + self.threshold) * 100)}%, floor {self.floor})."
        )

    # --- scenarios --------------------------------------------------------------------
    # Every step, 100 requests land in one bucket. Healthy traffic sits in (floor_over, 2*floor],
    # as it did a week earlier; a breach moves it to a bucket whose quantile is 0.5% past
    # the allowed regression. The `_low` levels are the same shapes scaled under the floor.

    def scenario_step(self) -> Duration:
        return self.window

    def evaluation_step(self) -> Duration:
        # promtool evaluates every rule at every step of the test's week, and each
        # evaluation costs: every few hours keeps a week cheap, and `for` still lands on
        # a later evaluation. The interval does not divide `offset`, and the evaluation
        # before each baseline instant is more than the 5m lookback earlier: no recorded
        # sample exists a week before any evaluation, as on a fresh deploy, so every
        # scenario proves the baseline comes from the raw series.
        lookback = LOOKBACK.ms
        for hours in range(6, 0, -1):
            every = hours * 3_600_000
            rest = self.offset.ms % every
            if every % self.window.ms == 0 and rest and every - rest > lookback:
                return Duration(every)
        return self.window

    def warmup(self, step: Duration) -> int:
        every = self.evaluation_step().ms // step.ms
        return -(-self.offset.ms // step.ms) + every

    def horizon(self, step: Duration) -> int:
        every = self.evaluation_step().ms // step.ms
        return -(-self.for_.ms // step.ms) + 4 * every + 2

    def for_edges(self) -> list[ForEdge]:
        """A regression evaluated every window: a week of healthy history (its middle
        left empty, see `_read`), then the breach until a few evaluations past `for`."""
        step = self.scenario_step()
        every = edge_evaluation(self.for_, step, self.evaluation_step(), [self.window, self.offset])
        if every is None:
            return []
        k = every.ms // step.ms
        warm = -(-self.offset.ms // step.ms) + k
        breach = -(-self.for_.ms // step.ms) + 4 * k
        timeline = (Phase(SAFE, warm), Phase(BREACH, breach))
        return [ForEdge(f"regression_for_{self.for_}_every_{every}", timeline, step, k)]

    def sampled_firing_scenarios(self) -> list[Sampled]:
        """Requests whose mix changes minute by minute, sampled every minute and evaluated
        as the other scenarios are. A week ago each window held healthy minutes and a few
        slow requests in its last minute; now it holds slow minutes and a healthy last
        one. The rates over the window page. The last two samples alone (an `irate`) see
        the healthy minute now and the slow one a week ago, and never page. The window
        before the breach's first baseline held slow minutes: a baseline over two windows
        sees them, and pages an evaluation late."""
        minutes, every = self._minutes(), self.evaluation_step().ms // MINUTE.ms
        if minutes is None or not self._pages(self._quantile(SPIKY), self._quantile(BURSTY)):
            return []
        offset = self.offset.ms // MINUTE.ms
        first = offset + 2 * minutes + -(offset + 2 * minutes) % every  # the breach's first evaluation
        fires = first + -(-self.for_.ms // self.evaluation_step().ms) * every
        slow = first - offset - 2 * minutes  # the slow window a week before
        timeline = (
            Phase(SPIKY, slow),
            Phase(BURSTY, minutes),
            Phase(SPIKY, first - minutes - slow - minutes),
            Phase(BURSTY, fires + every + 1 - (first - minutes)),
        )
        if fires + every + 1 > MAX_STEPS:
            return []
        return [Sampled("minute_bursts", timeline, MINUTE, every)]

    def _minutes(self) -> int | None:
        """Minutes per window, where a window holds two or more, the offset and the
        evaluation step whole windows, and two windows before each baseline instant lie
        between evaluations' windows (see `_read`)."""
        minutes, rest = divmod(self.window.ms, MINUTE.ms)
        every = self.evaluation_step().ms
        after = -self.offset.ms % every  # from an evaluation to the next baseline instant
        aligned = not rest and not self.offset.ms % self.window.ms and not every % self.window.ms
        apart = 2 * self.window.ms < after < every - self.window.ms
        return minutes if minutes >= 2 and aligned and apart else None

    def _minute_levels(self) -> dict[str, Traffic]:
        """A window's minutes: healthy but for a few slow requests (half of 1 - q of the
        window's) in the last one, so the window's quantile stays healthy; or slow but for
        a healthy last one."""
        minutes = self._minutes()
        if minutes is None:
            return {}
        mid, far = self._bounds()[1], self._far()
        few = float(f"{100 * (minutes - 1) * (1 - self.quantile) / 2:.6g}")
        healthy, slow = ((mid, 100.0),), ((far, 100.0),)
        return {
            SPIKY: {"": (*[healthy] * (minutes - 1), ((far, few),))},
            BURSTY: {"": (*[slow] * (minutes - 1), healthy)},
        }

    def _bounds(self) -> tuple[float, float, float]:
        floor = self.floor.seconds
        q = self.quantile
        near = self._near()
        # Healthy requests spread over (just over the floor, 2*floor]: the bucket edge
        # `floor_over` sits between them and the floor (see `_near`).
        baseline = near["floor_over"] + q * (2 * floor - near["floor_over"])
        # Half a percent past the allowed regression: within the 1% a mutation nudges it by.
        target = baseline * (1 + self.threshold) * 1.005
        start = near["factor_under"]
        upper = float(f"{start + (target - start) / q:.6g}")
        if upper <= start:
            upper = float(f"{4 * floor:.6g}")
        return floor, 2 * floor, upper

    def _near(self) -> dict[str, float]:
        """Bucket edges whose requests put the quantile half a percent on either side of
        the floor (from a baseline far under it), and half a percent short of the
        allowed regression (from the healthy baseline): a floor or a threshold nudged by
        the 1% of a mutation changes whether those page."""
        floor, q = self.floor.seconds, self.quantile
        under = float(f"{floor - 0.005 * floor / q:.6g}")  # requests in (under, floor]
        over = float(f"{floor + 0.005 * floor / q:.6g}")  # requests in (floor, over]
        baseline = over + q * (2 * floor - over)
        short = baseline * (1 + self.threshold) * 0.995
        return {
            "floor_under": under,
            "floor_over": over,
            "factor_under": float(f"{2 * floor + (short - 2 * floor) / q:.6g}"),
        }

    def boundary_scenarios(self, warm: int, every: int) -> list[tuple[str, list[Phase]]]:
        """Just short of the allowed regression, then just past it; and a regression from
        a tiny baseline whose latency sits just under the floor, then just over it.
        Each pair pages only in its second half, after `for`. Then the same on the
        threshold exactly, where `>` and `>=` differ: a regression of exactly the factor
        (the ratio of two quantiles that are bucket bounds), then half a percent past it
        (within the step a threshold nudged away from firing moves by); and a quantile
        exactly at the floor, then just over it."""
        hold = -(-self.for_.ms // self.scenario_step().ms) + 2 * every
        out = [
            (
                "just_short_of_then_past_the_regression",
                [Phase(SAFE, warm), Phase("factor_under", hold), Phase(BREACH, hold)],
            ),
            (
                "just_under_then_over_the_floor",
                [Phase("safe_low", warm), Phase("floor_under", hold), Phase("floor_over", hold)],
            ),
        ]
        exact = (
            ("exactly_at_then_past_the_regression", (AT_BASE, AT_FACTOR, PAST_FACTOR), self._at_factor),
            ("exactly_at_then_over_the_floor", ("safe_low", AT_FLOOR, "floor_over"), self._at_floor),
        )
        levels = self._levels()
        for name, used, holds in exact:
            if set(used) <= set(levels) and holds(*(self._quantile(level, used) for level in used)):
                before, at, past = used
                out.append((name, [Phase(before, warm), Phase(at, hold), Phase(past, hold)]))
        return out

    def _at_factor(self, base: float, at: float, past: float) -> bool:
        """Whether `at` is the factor times `base` exactly (over the floor), and `past` pages."""
        return at / base == 1 + self.threshold and at > self.floor.seconds and self._pages(base, past)

    def _at_floor(self, low: float, at: float, over: float) -> bool:
        """Whether `at` is the floor exactly (far past the factor times `low`), and `over` pages."""
        return at == self.floor.seconds and at / low > 1 + self.threshold and self._pages(low, over)

    def _pages(self, then: float, now: float) -> bool:
        """The alert's condition on two quantiles, as PromQL computes it."""
        return then > 0 and now / then > 1 + self.threshold and now > self.floor.seconds

    def _exact_share(self) -> tuple[float, float] | None:
        """Requests per window, and how many of them sit in one bucket (none under it,
        the rest far above), such that Prometheus's rank (q times the total rate) equals
        that bucket's rate as doubles: rank / count is exactly 1, and the quantile is the
        bucket's upper bound exactly. None if no total up to 2000 does."""
        seconds = self.window.seconds
        for total in range(2, 2001):
            share = round(self.quantile * total)
            if 0 < share < total and self.quantile * (total / seconds) == share / seconds:
                return float(total), float(share)
        return None

    def _exact_levels(self) -> dict[str, Traffic]:
        share = self._exact_share()
        if share is None:
            return {}
        total, under = share
        far = self._far()

        def exactly(edge: float) -> Traffic:
            return {"": (((edge, under), (far, total - under)),)}

        # A baseline at a power of two near the healthy one: its product with the factor
        # is exact, so their ratio is the factor exactly (0.3 / 0.2 is not 1.5).
        base = 2.0 ** round(math.log2(self._bounds()[1]))
        at = base * (1 + self.threshold)
        past = float(f"{at * 1.005:.6g}")
        levels = {AT_FLOOR: exactly(self.floor.seconds)}
        if at < past < far:
            levels.update({AT_BASE: exactly(base), AT_FACTOR: exactly(at), PAST_FACTOR: exactly(past)})
        return levels

    def _rollout_levels(self) -> dict[str, Traffic]:
        """The old version's instance and the new one's, one of them serving the route
        (the other drained). The new histogram adds a bound far above every request: in
        that bucket the sum by `le` adds the new instance's series only, and Prometheus
        raises its count to the one under it. An `avg` would halve every other bucket,
        putting the quantile in the added one."""
        _, mid, hi = self._bounds()
        added = ((float(f"{2 * self._far():.6g}"), 0.0),)
        return {
            OLD_SERVES: {OLD: (((mid, 100.0),),), NEW: (added,)},
            NEW_SERVES: {OLD: ((),), NEW: (((mid, 100.0), *added),)},
            NEW_BREACH: {OLD: ((),), NEW: (((hi, 100.0), *added),)},
        }

    def _low(self) -> float:
        """Scale of the `_low` levels: the whole breach sits under the floor."""
        lo, _, hi = self._bounds()
        return min(1 / 8, lo / hi / 2)

    def _far(self) -> float:
        """The bucket of the slow instance in the mixed levels, far past any breach."""
        return float(f"{8 * (1 + self.threshold) * self._bounds()[2]:.6g}")

    def _mixes(self) -> dict[str, tuple[float, float]]:
        """Requests per step of the fast and the slow instance. Even shares: the summed
        histogram's quantile lies in the slow bucket, where each instance's own buckets
        (a `max` over them) put it at the healthy one. A slow share of half of 1 - q:
        the sum's quantile stays healthy, where `min` over the instances' cumulative
        buckets puts it in the slow bucket."""
        slow = 50 * (1 - self.quantile)
        return {MIXED_EVEN: (100.0, 100.0), MIXED_LIGHT: (100.0 - slow, slow)}

    def _behaves(self, before: str, after: str, fires: bool) -> bool:
        """Whether `after` following `before` a week earlier pages as `fires` says (a
        mixed scenario is kept only where its shares make sense for this quantile)."""
        pages = self._pages(self._quantile(before, (after,)), self._quantile(after, (before,)))
        return self.quantile > 0.5 and pages == fires

    def _buckets(self) -> list[float]:
        lo, mid, hi = self._bounds()
        low = self._low()
        edges = {float(f"{b:.6g}") for b in (lo, mid, hi, lo * low, mid * low, hi * low, self._far())}
        return sorted(edges | set(self._near().values()) | {math.inf})

    def extra_firing_scenarios(self, warm: int, horizon: int) -> list[tuple[str, list[Phase]]]:
        # Raw history a week back only: the record has none there (see evaluation_step).
        # A week after a rollout, the baseline sums the new version's buckets too.
        return [
            ("fresh_deploy", [Phase(SAFE, warm), Phase(BREACH, horizon)]),
            *(
                (name, [Phase(before, warm), Phase(after, horizon)])
                for name, before, after in (
                    ("one_of_two_instances_slow_now", SAFE, MIXED_EVEN),
                    ("one_instance_barely_slow_a_week_ago", MIXED_LIGHT, MIXED_EVEN),
                    ("rolled_out_a_week_ago", NEW_SERVES, NEW_BREACH),
                )
                if self._behaves(before, after, fires=True)
            ),
        ]

    def extra_silent_scenarios(self, warm: int, horizon: int) -> list[tuple[str, list[Phase]]]:
        # A rollout now, as healthy as the old version a week earlier; and a baseline of
        # 0 (every request in a bucket at 0), which the guard keeps from dividing.
        zero = self._quantile(ZERO, (BREACH,)) == 0 and self._quantile(BREACH, (ZERO,)) > self.floor.seconds
        return [
            ("below_floor", [Phase("safe_low", warm), Phase("breach_low", horizon)]),
            *(
                (name, [Phase(before, warm), Phase(after, horizon)])
                for name, before, after in (
                    ("one_instance_barely_slow_now", SAFE, MIXED_LIGHT),
                    ("one_of_two_instances_slow_a_week_ago", MIXED_EVEN, BREACH),
                    ("rolled_out_now", OLD_SERVES, NEW_SERVES),
                )
                if self._behaves(before, after, fires=False)
            ),
            *([("zero_baseline", [Phase(ZERO, warm), Phase(BREACH, horizon)])] if zero else []),
        ]

    def _levels(self) -> dict[str, Traffic]:
        """Every level's requests. Single levels put 100 requests a step in one bucket."""
        _, mid, hi = self._bounds()
        near, low = self._near(), self._low()
        single = {
            SAFE: mid,
            BREACH: hi,
            "safe_low": float(f"{mid * low:.6g}"),
            "breach_low": float(f"{hi * low:.6g}"),
            "factor_under": near["factor_under"],
            # Just under the floor: requests in (floor_under, floor]; just over: (floor, floor_over].
            "floor_under": self.floor.seconds,
            "floor_over": near["floor_over"],
            ZERO: 0.0,
        }
        levels: dict[str, Traffic] = {level: {"": (((edge, 100.0),),)} for level, edge in single.items()}
        levels[IDLE] = {"": ((),)}
        # Mixed levels split a route over two instances (see MIXED_EVEN).
        for level, (fast, slow) in self._mixes().items():
            levels[level] = {f"{MIX_LABEL}-a": (((mid, fast),),), f"{MIX_LABEL}-b": (((self._far(), slow),),)}
        return {**levels, **self._exact_levels(), **self._rollout_levels(), **self._minute_levels()}

    def _served(self, levels: Collection[str]) -> dict[str, dict[str, tuple[Requests, ...]]]:
        """Per instance, the requests of each of `levels` it serves. Where some levels
        name instances, the first of them also serves the levels that name none."""
        known = self._levels()
        named = sorted({instance for level in levels for instance in known[level]} - {""})
        out: dict[str, dict[str, tuple[Requests, ...]]] = {}
        for instance in named or [""]:
            first = instance == (named or [""])[0]
            out[instance] = {
                level: known[level].get(instance) or (known[level].get("", ((),)) if first else ((),))
                for level in levels
            }
        return out

    def _layout(self, served: Mapping[str, tuple[Requests, ...]]) -> list[float]:
        """An instance's bucket bounds: the kind's own, and every bound it serves requests in."""
        edges = {edge for pattern in served.values() for step in pattern for edge, _ in step}
        return sorted(edges | set(self._buckets()))

    def _quantile(self, level: str, beside: Iterable[str] = ()) -> float:
        """The quantile the rules compute over one window of `level`, in a scenario that
        also has the levels `beside` (they shape its bucket layouts): each series' requests
        in the window over its seconds, added up by `le` in the model's order."""
        rates: dict[float, float] = defaultdict(float)
        for _, served in sorted(self._served({level, *beside}).items()):
            for le in self._layout(served):
                requests = sum(n for step in served[level] for edge, n in step if edge <= le)
                rates[le] += requests / self.window.seconds
        return bucket_quantile(self.quantile, list(rates.items()))

    def synthesize(self, sim: SeriesSet, resolve: Resolve, scope: dict[str, str], timeline: Sequence[Phase]) -> None:
        labels = satisfying_labels(resolve(self.as_selector()), scope)
        name, dropped = f"{self.metric}_bucket", _runs(self._read(sim), False)
        for instance, served in self._served(dict.fromkeys(phase.level for phase in timeline)).items():
            for le in self._layout(served):
                patterns = {
                    level: [sum((n for edge, n in step if edge <= le), 0.0) for step in pattern]
                    for level, pattern in served.items()
                }
                le_text = "+Inf" if math.isinf(le) else number(le)
                series_labels = {**labels, **({MIX_LABEL: instance} if instance else {}), "le": le_text}
                self._put(sim, name, series_labels, increments(timeline, sim.length, patterns), dropped)

    def _put(
        self, sim: SeriesSet, name: str, labels: dict[str, str], steps: list[float], dropped: list[tuple[int, int]]
    ) -> None:
        samples = sim.put_counter(name, labels, steps).samples
        # A few long stretches, blanked by slice: a week of samples per bucket series.
        for start, stop in dropped:
            samples[start:stop] = [None] * (stop - start)

    def _read(self, sim: SeriesSet) -> list[bool]:
        """The samples a scenario keeps. Only the stretch a week before the checks matters
        for the baseline: leaving the middle of the week empty makes promtool's week of
        evaluations cheap. Samples finer than the window would still fill the rest with
        thousands: those keep only two windows before each evaluation that has a baseline,
        and before its baseline instant (a range twice the window reads samples, not a gap)."""
        offset = sim.steps(self.offset)
        if sim.step.ms >= self.window.ms:
            return [not sim.length - offset < i < offset - 1 for i in range(sim.length)]
        read = [False] * sim.length
        reach = 2 * sim.steps(self.window)
        for end in (end for i in sim.evaluated(offset + reach) for end in (i, i - offset)):
            read[end - reach : end + 1] = [True] * (reach + 1)
        return read

    def evaluate(self, sim: SeriesSet, resolve: Resolve) -> list[list[dict[Labels, float]]]:
        matchers = resolve(self.as_selector())
        quantiles = sim.histogram_quantile(self.quantile, self.metric, matchers, self.grouping(), self.window)
        offset = sim.steps(self.offset)
        # The baseline is the raw buckets' quantile `offset` before each evaluation,
        # wherever that falls (it need not be an evaluation step).
        baselines = sim.histogram_quantile(
            self.quantile, self.metric, matchers, self.grouping(), self.window, at=[i - offset for i in sim.evaluated()]
        )
        # Steps with no quantile (not evaluated, or no traffic) share one silent result:
        # a week of samples, most of them not evaluated.
        silent: list[dict[Labels, float]] = [{}]
        out = [silent] * len(quantiles)
        for i in compress(range(len(quantiles)), quantiles):
            current = quantiles[i]
            baseline = baselines[i - offset] if i >= offset else {}
            ratios = {
                k: current[k] / baseline[k]
                for k in current
                if baseline.get(k, 0) > 0 and current[k] > self.floor.seconds
            }
            out[i] = [filter_group(ratios, ">", 1 + self.threshold)]
        return out

    def nudged(self) -> LatencyRegression:
        return self.model_copy(update={"threshold": self.threshold + 0.1 * (1 + self.threshold)})


def _runs(flags: Sequence[bool], value: bool) -> list[tuple[int, int]]:
    """The [start, stop) stretches of `flags` that equal `value`."""
    out: list[tuple[int, int]] = []
    start = None
    for i, flag in enumerate(flags):
        if flag == value and start is None:
            start = i
        elif flag != value and start is not None:
            out.append((start, i))
            start = None
    if start is not None:
        out.append((start, len(flags)))
    return out
