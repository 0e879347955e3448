"""promtool's input notation: `metric{a="b"}` for a series, and its expanding notation
for samples (`a+bxn` is n + 1 samples a, a+b, ... a+b*n; `_xn` n missing ones;
`stale` a staleness marker)."""

from __future__ import annotations

from functools import lru_cache

from rulesgen.ir import InputSeries, Labels, Run
from rulesgen.promql import escape_string


def series_text(metric: str, labels: Labels) -> str:
    inner = ",".join(f"{k}={escape_string(v)}" for k, v in labels)
    return f"{metric}{{{inner}}}" if inner else metric


# Alerts of one shape share their sample runs (the same tuple), written once per
# environment and file: a week of runs written once.
@lru_cache(maxsize=1024)
def values_text(runs: tuple[Run, ...]) -> str:
    return " ".join(map(_run, runs))


def input_series_dict(series: InputSeries) -> dict[str, str]:
    return {"series": series_text(series.metric, series.labels), "values": values_text(series.runs)}


def _run(run: Run) -> str:
    if run.start is None:
        return "_" if run.count == 1 else f"_x{run.count}"
    if run.count == 1:
        return _num(run.start)
    sign = "+" if run.delta >= 0 else "-"
    return f"{_num(run.start)}{sign}{_num(abs(run.delta))}x{run.count - 1}"


def _num(value: float) -> str:
    if value != value:
        return "stale"  # the only NaN scenario series hold: a failed scrape
    return str(int(value)) if float(value).is_integer() else repr(float(value))
