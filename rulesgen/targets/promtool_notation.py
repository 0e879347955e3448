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
    """The packed runs in promtool's notation, memoized by their bytes: alerts of one
    shape, their environments and the scenarios of a plan repeat the same samples under
    other names (1,230 distinct sequences among 141,762 series at 500 alerts)."""
    key = packed.tobytes()
    known = _TEXT.get(key)
    if known is not None:
        return known
    text = " ".join(map(_run, packed[0::3], packed[1::3], packed[2::3]))
    if len(_TEXT) >= TEXT_MEMO:
        del _TEXT[next(iter(_TEXT))]  # the oldest entry
    _TEXT[key] = text
    return text


# Bounded: a spec of thousands of alerts of other shapes would otherwise keep every
# sequence's text, a fraction of the output's size, for the whole run.
TEXT_MEMO = 8192
_TEXT: dict[bytes, str] = {}


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
