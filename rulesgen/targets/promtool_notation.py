"""promtool's input notation: `metric{a="b"}` for a series, and its expanding notation
for samples (`a+bxn` is n + 1 samples a, a+b, ... a+b*n; `_xn` n missing ones;
`stale` a staleness marker)."""

from __future__ import annotations

from array import array

from rulesgen.ir import InputSeries, Labels
from rulesgen.promql import escape_string


def series_text(metric: str, labels: Labels) -> str:
    inner = ",".join(f"{k}={escape_string(v)}" for k, v in labels)
    return f"{metric}{{{inner}}}" if inner else metric


def values_text(packed: array[float]) -> str:
    """The packed runs in promtool's notation. Equal samples share one array (the
    planner's memo, a plan's history, an alert's environments): the text of the
    latest arrays is kept, each with its array so that its id is not reused."""
    known = _TEXT.get(id(packed))
    if known is not None:
        return known[1]
    text = " ".join(map(_run, packed[0::3], packed[1::3], packed[2::3]))
    if len(_TEXT) >= TEXT_MEMO:
        del _TEXT[next(iter(_TEXT))]  # the oldest entry
    _TEXT[id(packed)] = (packed, text)
    return text


# Enough for every series of one alert's files in every environment, which the
# promtool_tests target writes one after the other; texts kept for the whole suite
# would cost about a quarter of the output's size in memory again.
TEXT_MEMO = 8192
_TEXT: dict[int, tuple[array[float], str]] = {}


def input_series_dict(series: InputSeries) -> dict[str, str]:
    return {"series": series_text(series.metric, series.labels), "values": values_text(series.packed)}


def _run(start: float, delta: float, count: float) -> str:
    """One packed run (`ir.InputSeries.packed`) in promtool's notation."""
    if count < 0:
        return "_" if count == -1 else f"_x{int(-count)}"
    if count == 1:
        return _num(start)
    sign = "+" if delta >= 0 else "-"
    return f"{_num(start)}{sign}{_num(abs(delta))}x{int(count) - 1}"


def _num(value: float) -> str:
    if value != value:
        return "stale"  # the only NaN scenario series hold: a failed scrape
    return str(int(value)) if float(value).is_integer() else repr(float(value))
