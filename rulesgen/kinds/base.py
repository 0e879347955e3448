"""What every alert kind shares: its common spec fields, the compile API (context,
variants and their condition trees) and the hooks the test generator calls.

The scenario toolkit that kinds build their test series with is `kinds.toolkit`."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from pydantic import Field

from rulesgen import conventions
from rulesgen.errors import Path
from rulesgen.ir import Compare, Condition, ErrorBudget, Labels, Quantity, RecordingRule
from rulesgen.kinds.toolkit import ForEdge, Phase, Sampled
from rulesgen.model.series import LOOKBACK, SeriesSet
from rulesgen.promql import Duration, Matcher, aggregate, number, selector
from rulesgen.spec.models import (
    AlertName,
    Direction,
    Example,
    Identifier,
    LabelName,
    LabelValue,
    MatcherSpec,
    MetricName,
    MetricType,
    PositiveDuration,
    SelectorSpec,
    StrictModel,
    Suppression,
    Url,
)

Resolve = Callable[[SelectorSpec], tuple[Matcher, ...]]

# Filters for `{{ $value }}` by the unit of the compared quantity.
HUMANIZE = {
    "count": "humanize",
    "ratio": "humanizePercentage",
    "factor": "humanizePercentage",
    "seconds": "humanizeDuration",
    "bytes": "humanize1024",
}


@dataclass(frozen=True)
class SelectorUse:
    """A selector an alert reads, where it sits in the spec, and what metric types it accepts."""

    path: Path
    selector: SelectorSpec
    types: frozenset[MetricType]


@dataclass(frozen=True)
class AlertVariant:
    """One alerting rule a kind produces (most produce one; burn rates one per tier)."""

    expr: str
    condition: Condition
    labels: Labels = ()
    severity: str | None = None  # defaults to the alert's
    for_: Duration | None = None  # defaults to the alert's
    # Extra `[[ name ]]` variables for this rule's templates (a burn-rate tier's windows).
    template_vars: Labels = ()
    budget: ErrorBudget | None = None  # a burn-rate tier's, for the backtest's report


@dataclass(frozen=True)
class Invariants:
    """What a kind means when there is no data, or when only series outside its
    matchers exist, and whether it counts counter events exactly (then the planner
    proves a series born inside the window, a reset and samples out of step with
    evaluation): the test generator proves exactly this, knowing no kind."""

    no_data_fires: bool = False
    outside_matchers_fire: bool = False
    # Whether a scope's series may be split unevenly over a label the alert sums away
    # (tokens, jobs) to prove it sums: not where series only mean something together,
    # as a histogram's buckets do (and a quantile is blind to how a sum is shared).
    sums_split: bool = True
    exact_counters: bool = False
    # Reads gauges through `last_over_time` so a failed scrape does not restart `for`.
    scraped_gauges: bool = False
    # Fires per scope whose series are gone (absence guards): proven with one scope gone
    # while the others remain, a renamed metric, failed scrapes and a replaced pod.
    scoped_absence: bool = False


SELECTOR = "$SELECTOR"  # where a raw read's selector goes in its recording rule's template


@dataclass(frozen=True)
class RawRead:
    """A recording rule `sum by (keep) (inner)` that reads a raw metric. Compiled alone,
    it selects with its alert's matchers; lowering then widens the selector to what
    every alert reading the record needs (`union_matchers`), so a shared record still
    reads only those series, and derives it from a finer record of the same family
    (the same metric and per-series expression, more labels kept) where one exists."""

    metric: str
    matchers: tuple[Matcher, ...]
    keep: tuple[str, ...]
    inner: str  # the per-series expression, with SELECTOR where the selector goes

    @property
    def template(self) -> str:
        return aggregate("sum", self.keep, self.inner)

    @property
    def family(self) -> tuple[str, str]:
        """Records of one family differ only in the labels they keep."""
        return (self.metric, self.inner)

    def render(self, matchers: Sequence[Matcher]) -> str:
        return self.template.replace(SELECTOR, selector(self.metric, matchers))


def union_matchers(readers: Sequence[Sequence[Matcher]]) -> tuple[Matcher, ...]:
    """Matchers selecting at least what each reader selects (each reader filters the
    record again): per label every reader constrains, the union of the values each
    accepts, or the values all of them exclude; any other label is left open."""
    if not readers:
        return ()
    by_label = [{m.label: m for m in reader} for reader in readers]
    out = []
    for label in sorted(set(by_label[0]).intersection(*by_label[1:])):
        ms = [r[label] for r in by_label]
        if not any(m.negate for m in ms):
            out.append(Matcher(label, tuple(sorted({v for m in ms for v in m.values}))))
        elif all(m.negate for m in ms):
            common = set(ms[0].values).intersection(*(m.values for m in ms[1:]))
            if common:
                out.append(Matcher(label, tuple(sorted(common)), negate=True))
    return tuple(out)


@dataclass(frozen=True)
class KindRules:
    records: tuple[RecordingRule, ...]
    variants: tuple[AlertVariant, ...]
    raw_reads: tuple[tuple[str, RawRead], ...] = ()  # (record name, its raw read)


@dataclass
class CompileContext:
    """What lowering hands a kind: label sets resolved into matchers."""

    resolve: Resolve
    _records: dict[str, str] = field(default_factory=dict)
    _raw: dict[str, RawRead] = field(default_factory=dict)

    def rules(self, variants: Sequence[AlertVariant]) -> KindRules:
        """The kind's result: the recording rules it needed, and its alert variants."""
        return KindRules(self.records, tuple(variants), tuple(self._raw.items()))

    @property
    def records(self) -> tuple[RecordingRule, ...]:
        """Recording rules in the order they were first needed (dependencies first)."""
        return tuple(RecordingRule(name, expr) for name, expr in self._records.items())

    def record(self, name: str, expr: str) -> str:
        """Add a recording rule (once) and return the name to select it by."""
        known = self._records.setdefault(name, expr)
        if known != expr:
            # Names encode every input of the expression; a clash is a bug in a kind.
            raise RuntimeError(f"recording rule {name} defined twice: {known!r} vs {expr!r}")
        return name

    def raw_record(self, name: str, sel: SelectorSpec, keep: Sequence[str], inner: str, suffix: str = "") -> str:
        """A recording rule `sum by (keep) (inner)`, reading `metric{matchers}` where
        `inner` says SELECTOR."""
        read = RawRead(sel.metric + suffix, self.resolve(sel), tuple(sorted(keep)), inner)
        known = self._raw.get(name)
        if known is not None:
            if known.template != read.template:
                raise RuntimeError(f"recording rule {name} defined twice: {known.template!r} vs {read.template!r}")
            # A second read of the same record by this alert (a ratio's numerator and
            # denominator): the record selects what both need.
            read = replace(read, matchers=union_matchers([known.matchers, read.matchers]))
        self._raw[name] = read
        self._records[name] = read.render(read.matchers)
        return name

    def windowed(self, sel: SelectorSpec, func: str, window: Duration, by: Sequence[str], suffix: str = "") -> str:
        """`sum by (by) (func(metric[window]))` through a shared recording rule.

        The recording rule keeps the matcher labels as well as `by`, so alerts that
        select different values of the same metric (failed vs all transactions)
        share one rule; the alert then filters and sums it down to `by`.
        """
        return self._filtered(self.windowed_record(sel, func, window, by, suffix), self.resolve(sel), by)

    def windowed_record(
        self, sel: SelectorSpec, func: str, window: Duration, by: Sequence[str], suffix: str = ""
    ) -> str:
        """The name of `windowed`'s recording rule (unfiltered: every reader filters it)."""
        keep = self._kept(sel, by)
        name = conventions.record_name(keep, sel.metric + suffix, conventions.window_op(func, window))
        return self.raw_record(name, sel, keep, f"{func}({SELECTOR}[{window}])", suffix)

    def counted(self, sel: SelectorSpec, window: Duration, by: Sequence[str], births: bool = True) -> str:
        """Counter events in `window` through a shared recording rule
        (`level:metric:increase<window>`; `increase_existing<window>` without births).

        Per series `x` (selected with the readers' matchers), the first clause that
        returns it wins (`or` adds a series only where the left lacks it):

            (x unless x offset W) and on(job, instance) (up offset W == 1)
                born inside the window on a target that was scraped then: its first
                value counts whole (a labelled counter appears with its first event)
          or (x - x offset W) unless resets(x[W + 5m]) > 0
                existed a window ago and no reset since: the exact difference, no
                extrapolation (5 events read 5, not 6.25). `x offset W` is the last
                sample up to a lookback (5m) before the window, so resets() reads from
                there: a restart between that sample and the window's first would be
                hidden from `x[W]`, and the difference of two lives negative
          or increase(x[W])
                everything else: a reset (events before and after it), a series gone
                now (a pod killed right after failing, a failed scrape's staleness
                marker, which range functions skip), a target that was down or not
                yet known a window ago (a replica back, a new pod with lifetime
                totals, a Prometheus that has just started: only growth counts)

        The birth guard is per target, not per metric family: a replica that returns
        after failed scrapes brings lifetime totals, which must not count, while its
        sibling kept the family alive. With `births=False` (exporters that initialize
        series to 0) the first clause is dropped.
        """
        return self._filtered(self._counted_record(sel, window, by, births), self.resolve(sel), by)

    def _counted_record(self, sel: SelectorSpec, window: Duration, by: Sequence[str], births: bool) -> str:
        keep = self._kept(sel, by)
        name = conventions.record_name(keep, sel.metric, conventions.window_op(_count_op(births), window))
        exact = f"({SELECTOR} - {SELECTOR} offset {window}) unless resets({SELECTOR}[{window + LOOKBACK}]) > 0"
        template = f"({exact}) or increase({SELECTOR}[{window}])"
        if births:
            born = f"({SELECTOR} unless {SELECTOR} offset {window}) and on(job, instance) (up offset {window} == 1)"
            template = f"({born}) or {template}"
        return self.raw_record(name, sel, keep, template)

    def tiled(self, sel: SelectorSpec, window: Duration, tile: Duration, by: Sequence[str], births: bool = True) -> str:
        """Counter events in the whole `tile`s of `window` that end at the latest multiple
        of `tile` (`level:metric:increase<window>_tiled<tile>`): the sum of `counted`'s
        record of `tile`, read at those multiples.

        A window of days read from raw samples costs days of samples per series at
        every evaluation; its tiles cost one recorded sample per tile and per label
        set, and each tile holds what `counted` holds (exact counts, births and resets
        as there). The price is lag: the window ends up to one tile (plus one
        evaluation) before now. The range is a millisecond short of `window` because
        Prometheus 2.x includes both ends of a range: at an evaluation on a multiple of
        `tile`, `[window:tile]` would read one tile too many.
        """
        tiles = self._counted_record(sel, tile, by, births)
        op = f"{conventions.window_op(_count_op(births), window)}_tiled{tile}"
        name = self.record(
            conventions.record_name(self._kept(sel, by), sel.metric, op),
            f"sum_over_time({tiles}[{Duration(window.ms - 1)}:{tile}])",
        )
        return self._filtered(name, self.resolve(sel), by)

    def _kept(self, sel: SelectorSpec, by: Sequence[str]) -> list[str]:
        """The labels a shared record of `sel` keeps: `by` and every label its readers match on."""
        return sorted(set(by) | {m.label for m in self.resolve(sel)})

    def _filtered(self, name: str, matchers: Sequence[Matcher], by: Sequence[str]) -> str:
        use = selector(name, matchers)
        if {m.label for m in matchers} <= set(by):
            return use
        return aggregate("sum", by, use)


class AlertModel(StrictModel):
    """Fields every alert has, whatever its kind."""

    kind: str
    name: AlertName
    team: Identifier
    severity: Identifier
    for_: Duration = Field(default=Duration(0), alias="for")
    keep_firing_for: Duration | None = None
    summary: str
    description: str | None = None
    runbook_url: Url | None = None
    labels: dict[LabelName, LabelValue] = Field(default_factory=dict)
    enabled: bool = True
    examples: list[Example] = Field(default_factory=list)
    lint_disable: list[Suppression] = Field(default_factory=list)

    # Fields an environment may not override: they define what the alert is.
    fixed_fields: ClassVar[frozenset[str]] = frozenset({"kind", "name"})
    invariants: ClassVar[Invariants] = Invariants()

    def selectors(self) -> Iterable[SelectorUse]:
        """The selectors this alert reads, for checks against the metrics catalog."""
        raise NotImplementedError

    def grouping(self) -> tuple[str, ...]:
        """Labels the alert fires per; they must exist on every selector's metric."""
        return ()

    def result_labels(self, metric_labels: Callable[[str], Sequence[str]]) -> tuple[str, ...]:
        """Labels the alert expression's results carry: what `$labels` may read."""
        return self.grouping()

    def compile(self, ctx: CompileContext) -> KindRules:
        """Recording rules and alert expressions for this alert."""
        raise NotImplementedError

    def default_description(self) -> str:
        """A Prometheus template with the humanized value and the grouping labels."""
        raise NotImplementedError

    def template_vars(self) -> dict[str, Any]:
        """Variables the summary and description templates may use as `[[ name ]]`."""
        # Whole floats print as integers: "more than 5", not "more than 5.0".
        data = {
            k: int(v) if isinstance(v, float) and v.is_integer() else v
            for k, v in self.model_dump(by_alias=True, mode="json").items()
        }
        data["humanized_value"] = self.humanized_value()
        data["scope"] = self.scope_text()
        return data

    def value_unit(self) -> str:
        """Unit of the compared quantity: count, ratio, factor, seconds or bytes."""
        return "count"

    def referenced_severities(self) -> list[tuple[Path, str]]:
        return [(("severity",), self.severity)]

    def humanized_value(self) -> str:
        return f"{{{{ $value | {HUMANIZE[self.value_unit()]} }}}}"

    def scope_text(self) -> str:
        """` on network {{ $labels.network }}` for each grouping label."""
        return "".join(f" on {label} {{{{ $labels.{label} }}}}" for label in self.grouping())

    # --- scenarios (see rulesgen.scenarios) -----------------------------------------

    def scenario_step(self) -> Duration:
        """Sample interval of this alert's generated tests: 1m, or less so that the
        window is a whole number of samples (a 30s window needs two samples in it)."""
        window: Duration = getattr(self, "window", Duration(60_000))
        return Duration(math.gcd(60_000, window.ms))

    def evaluation_step(self) -> Duration:
        """Rule evaluation interval of the generated tests (a multiple of the scenario step)."""
        return self.scenario_step()

    def warmup(self, step: Duration) -> int:
        """Steps of healthy traffic before a scenario changes anything."""
        return 2

    def horizon(self, step: Duration) -> int:
        """Steps within which a sustained breach surely fires: its window must fill
        (a breach is one event past the threshold per window) and `for` elapse."""
        window: Duration = getattr(self, "window", Duration(0))
        longest_for = max(self.variant_fors(), default=Duration(0))
        return -(-window.ms // step.ms) + -(-longest_for.ms // step.ms) + 12

    def for_edges(self) -> list[ForEdge]:
        """Breaches evaluated finer than `evaluation_step`, one per `for` that step is too
        coarse to tell from its half and its double (kinds that evaluate long windows
        coarsely to keep their tests cheap)."""
        return []

    def sampled_firing_scenarios(self) -> list[Sampled]:
        """Kind-specific scenarios that must fire, sampled and evaluated at their own
        interval (requests whose mix changes within a window)."""
        return []

    def counting_windows(self) -> tuple[Duration, ...]:
        """The windows this kind counts counter events in exactly (none if it does not)."""
        window: Duration | None = getattr(self, "window", None)
        return (window,) if window is not None and self.invariants.exact_counters else ()

    def history_for(self, window: Duration) -> Duration:
        """How old the metric must be before every variant that reads `window` counts
        all its windows: the longest window read beside it (a scenario about `window`
        needs no more idle history). By default the longest counting window."""
        return max(self.counting_windows(), default=window)

    def firing_levels(self) -> tuple[str, ...]:
        return ("breach",)

    def burst_level(self) -> str | None:
        """A level whose single step holds a whole window's breach, so a series born
        with it fires (None: the kind has none, a series is born into a sustained breach)."""
        return None

    def extra_firing_scenarios(self, warm: int, horizon: int) -> list[tuple[str, list[Phase]]]:
        """Kind-specific scenarios that must fire (a regression with raw history only)."""
        return []

    def boundary_scenarios(self, warm: int, every: int) -> list[tuple[str, list[Phase]]]:
        """Kind-specific timelines (the whole scenario, `every` steps an evaluation) whose
        quantity crosses a threshold exactly on an evaluation; the planner checks one
        evaluation before and at every change of what fires."""
        return []

    def extra_silent_scenarios(self, warm: int, horizon: int) -> list[tuple[str, list[Phase]]]:
        """Kind-specific scenarios that must stay silent (a regression under the floor)."""
        return []

    def variant_fors(self) -> list[Duration]:
        return [self.for_]

    def replica_labels(self) -> tuple[str, ...]:
        """Labels that tell apart HA copies of one series, which the alert counts once."""
        return ()

    def common_matchers(self, resolve: Resolve) -> tuple[Matcher, ...]:
        """Matchers every selector shares: a series outside them must never page."""
        uses = [tuple(resolve(use.selector)) for use in self.selectors()]
        return tuple(m for m in uses[0] if all(m in other for other in uses[1:])) if uses else ()

    def synthesize(
        self,
        sim: SeriesSet,
        resolve: Resolve,
        scope: dict[str, str],
        timeline: Sequence[Phase],
    ) -> None:
        """Add the series of one scope (grouping label values) following `timeline`."""
        raise NotImplementedError

    def evaluate(self, sim: SeriesSet, resolve: Resolve) -> list[list[dict[Labels, float]]]:
        """What each variant's condition returns at each step (`[step][variant]`),
        computed from the spec's intent rather than from the generated PromQL."""
        raise NotImplementedError

    def nudged(self) -> AlertModel:
        """The alert with its threshold one step toward the safe side (mutation testing)."""
        raise NotImplementedError

    def without_for(self) -> AlertModel:
        return self.model_copy(update={"for_": Duration(0)})


class SingleSelector(StrictModel):
    """Fields of kinds that read one metric: `metric`, `matchers` and `by`."""

    metric: MetricName
    matchers: dict[LabelName, MatcherSpec] = Field(default_factory=dict)
    by: list[LabelName] = Field(default_factory=list)

    def as_selector(self) -> SelectorSpec:
        return SelectorSpec(metric=self.metric, matchers=self.matchers)


class ExactCounters(StrictModel):
    """The field of kinds that count counter events exactly (`CompileContext.counted`)."""

    counters_start_at_zero: bool = Field(
        default=False,
        description=(
            "the exporter exposes every series at 0 before its first event: a series that "
            "appears is not counted until it has existed a window (its first value is not "
            "new events, such as a long-running target newly scraped)"
        ),
    )

    @property
    def births(self) -> bool:
        """Whether a series born inside the window counts its first value."""
        return not self.counters_start_at_zero


class ScrapedGauges(StrictModel):
    """The field of kinds that read gauges: how long a gauge's last sample stands in
    for failed scrapes (`last_over_time(x[last_sample_for])`)."""

    last_sample_for: PositiveDuration = Field(
        default=Duration.parse("2m"),
        description=(
            "a gauge keeps its last sample this long through failed scrapes (about two scrape "
            "intervals), so one failed scrape does not restart `for`; a target gone for good "
            "still counts this long"
        ),
    )

    replicas_by: list[LabelName] = Field(
        default_factory=list,
        description=(
            "labels that tell apart high-availability copies of one series (instance): the "
            "copies report the same value, so they count once (max) before anything is summed"
        ),
    )

    def gauge(self, sel: str) -> str:
        """A raw gauge selector read through its last sample, HA copies counted once."""
        last = f"last_over_time({sel}[{self.last_sample_for}])"
        return f"max without ({', '.join(self.replicas_by)}) ({last})" if self.replicas_by else last

    def gauge_steps(self, sim: SeriesSet) -> int:
        return sim.steps(self.last_sample_for)

    def replica_labels(self) -> tuple[str, ...]:
        return tuple(self.replicas_by)


def compare(quantity: Quantity, direction: Direction, threshold: float, param: str = "threshold") -> AlertVariant:
    """The common alert shape: `quantity > threshold` (or `<`)."""
    return AlertVariant(
        expr=f"{quantity.expr} {direction.op} {number(threshold)}",
        condition=Compare(quantity, direction.op, threshold, param),
    )


def describe(what: str, spec: AlertModel, threshold: str) -> str:
    """Default description: value, what it measures, the grouping labels and the threshold."""
    return f"{spec.humanized_value()} {what}{spec.scope_text()} (threshold {threshold})."


def summed_by(by: Sequence[str]) -> str:
    """`, summed by network` for explain and docs."""
    return f", summed by {', '.join(by)}" if by else ""


def _count_op(births: bool) -> str:
    return "increase" if births else "increase_existing"
