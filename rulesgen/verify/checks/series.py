"""Do the series the rules read exist, with the values they select and the declared
types? pint's `promql/series` method: an instant query says what is there now; for a
metric that is not, a range query over the look-back tells "never present" from
"removed N ago", measured against the last time the server scraped anything (`up`), so
a server that was down is not taken for a removed metric; a metric gone for less than
the min-age is not reported (a scrape that failed a moment ago)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator

from rulesgen.promql import Duration
from rulesgen.verify.context import Context
from rulesgen.verify.deployed import Rule
from rulesgen.verify.findings import Finding
from rulesgen.verify.selectors import Read

HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def _names(metrics: set[str]) -> str:
    # Metric names hold no regex metacharacter but `:`, which is literal.
    return "{__name__=~" + '"' + "|".join(sorted(metrics)) + '"}'


def _ago(seconds: float) -> str:
    return str(Duration(int(seconds // 60) * 60_000)) if seconds >= 60 else f"{int(seconds)}s"


def _readers(ctx: Context) -> dict[str, list[tuple[Rule, Read]]]:
    out: dict[str, list[tuple[Rule, Read]]] = defaultdict(list)
    for rule, read in ctx.raw_reads():
        out[read.metric].append((rule, read))
    return out


def check(ctx: Context) -> Iterator[Finding]:
    readers = _readers(ctx)
    if not readers:
        return
    present = {
        s.labels.get("__name__", "") for s in ctx.prometheus.query(f"count by (__name__) ({_names(set(readers))})")
    }
    missing = set(readers) - present
    if missing:
        yield from _missing(ctx, readers, missing)
    for metric in sorted(present & set(readers)):
        yield from _values(ctx, metric, readers[metric])
    yield from _types(ctx, readers, present)


def _missing(ctx: Context, readers: dict[str, list[tuple[Rule, Read]]], missing: set[str]) -> Iterator[Finding]:
    seen = ctx.prometheus.last_seen(f"count by (__name__) ({_names(missing)})", ctx.lookback_s, ctx.step_s)
    last = {dict(labels).get("__name__", ""): at for labels, at in seen.items()}
    scraped = ctx.prometheus.last_seen("count(up)", ctx.lookback_s, ctx.step_s)
    now = max(scraped.values()) if scraped else None
    for metric in sorted(missing):
        rule = readers[metric][0][0]
        where = dict(place=rule.place, subject=metric, spec=ctx.metric_origin(metric))
        if metric not in last:
            lookback = _ago(ctx.lookback_s)
            yield Finding(
                code="RG301",
                message=f"{metric} (read by {rule.name}) has no series and had none in the last {lookback}",
                **where,
            )
            continue
        age = (now if now is not None else time.time()) - last[metric]
        if age >= ctx.min_age_s:
            yield Finding(code="RG302", message=f"{metric} (read by {rule.name}) disappeared {_ago(age)} ago", **where)


def _values(ctx: Context, metric: str, readers: list[tuple[Rule, Read]]) -> Iterator[Finding]:
    needed: dict[str, dict[str, Rule]] = defaultdict(dict)  # label -> value -> first rule selecting it
    for rule, read in readers:
        for label, values in read.values.items():
            for value in values:
                needed[label].setdefault(value, rule)
    alternation_labels = {label for _, read in readers for label, _ in read.alternatives}
    for label in sorted(needed):
        on_server = {s.labels.get(label, "") for s in ctx.prometheus.query(f"count by ({label}) ({metric})")}
        for value, rule in sorted(needed[label].items()):
            if value not in on_server:
                yield Finding(
                    place=rule.place,
                    code="RG303",
                    subject=f"{metric}{{{label}}}",
                    message=f'{metric} has no series with {label}="{value}" (selected by {rule.name}); '
                    f"the server has {label}: {', '.join(sorted(v for v in on_server if v)) or 'none'}",
                    spec=_label_set_origin(ctx, label, value)
                    or (ctx.deployed.spec_place(rule.name) if rule.alerting else ctx.metric_origin(metric)),
                )
        if label in alternation_labels:
            yield from _unknown(ctx, metric, label, on_server, readers)


def _label_set_origin(ctx: Context, label: str, value: str) -> str:
    """Where a label set declares `value`, if one does."""
    for declared in (ctx.deployed.expectations.get("label_sets") or {}).values():
        if declared["label"] == label and value in declared["values"]:
            return str(declared.get("origin", ""))
    return ""


def _known(ctx: Context, label: str) -> tuple[set[str], str] | None:
    """The values of `label` anyone declared, and where, or None when the label is not
    a label set's (with expectations.json: only label sets say what exists)."""
    sets = ctx.deployed.expectations.get("label_sets")
    selected = {
        v for _, read in ctx.rule_reads() for lbl, values in read.values.items() if lbl == label for v in values
    }
    if sets is None:
        return selected, ""
    mine = [s for s in sets.values() if s["label"] == label]
    if not mine:
        return None
    return selected | {v for s in mine for v in (*s["values"], *s["others"])}, str(mine[0].get("origin", ""))


def _unknown(
    ctx: Context, metric: str, label: str, on_server: set[str], readers: list[tuple[Rule, Read]]
) -> Iterator[Finding]:
    known = _known(ctx, label)
    if known is None:
        return
    values, origin = known
    rule = next(rule for rule, read in readers if any(lbl == label for lbl, _ in read.alternatives))
    for value in sorted(on_server - values - {""}):
        yield Finding(
            place=rule.place,
            code="RG304",
            subject=f"{metric}{{{label}}}",
            message=f'{metric} has series with {label}="{value}", a value no rule selects and no label set '
            f"declares (its alerts can never fire for it): add it to a label set's values or others",
            spec=origin,
        )


def _declared(ctx: Context, metric: str, readers: list[tuple[Rule, Read]]) -> tuple[str, str] | None:
    """(type, why): the catalog's type, or `counter` when a rule reads it with rate/increase."""
    catalog = ctx.deployed.expectations.get("metrics", {})
    for name in (metric, *(metric.removesuffix(s) for s in HISTOGRAM_SUFFIXES if metric.endswith(s))):
        if name in catalog:
            return str(catalog[name]["type"]), "declared"
    if any(read.counter for _, read in readers):
        return "counter", "read with rate/increase"
    return None


def _types(ctx: Context, readers: dict[str, list[tuple[Rule, Read]]], present: set[str]) -> Iterator[Finding]:
    metadata = ctx.prometheus.metadata()
    for metric in sorted(present):
        declared = _declared(ctx, metric, readers[metric])
        bases = [metric, *(metric.removesuffix(s) for s in HISTOGRAM_SUFFIXES if metric.endswith(s))]
        types = {m.get("type", "") for base in bases for m in metadata.get(base, [])} - {"", "unknown"}
        if declared is None or not types or declared[0] in types:
            continue
        rule = readers[metric][0][0]
        yield Finding(
            place=rule.place,
            code="RG305",
            subject=metric,
            message=f"{metric} is a {'/'.join(sorted(types))} on the server but {declared[1]} as a {declared[0]}",
            spec=ctx.metric_origin(metric),
        )
