"""Go template functions as Prometheus applies them to annotations: humanize,
humanize1024, humanizePercentage, humanizeDuration and the bare `{{ $value }}`,
which Go prints with `%g`-like formatting (1e+06, not 1000000)."""

from __future__ import annotations

import math
import re
from decimal import Decimal

from rulesgen.ir import Labels


def go_g4(value: float) -> str:
    """Go's `fmt.Sprintf("%.4g", v)`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.4g}"


def humanize(value: float) -> str:
    if value == 0 or math.isnan(value) or math.isinf(value):
        return go_g4(value)
    prefix = ""
    if abs(value) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix, value = p, value / 1000
        return go_g4(value) + prefix
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix, value = p, value * 1000
    return go_g4(value) + prefix


def humanize1024(value: float) -> str:
    if abs(value) <= 1 or math.isnan(value) or math.isinf(value):
        return go_g4(value)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(value) < 1024:
            break
        prefix, value = p, value / 1024
    return go_g4(value) + prefix


def humanize_percentage(value: float) -> str:
    return go_g4(value * 100) + "%"


def humanize_duration(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return go_g4(value)
    if value == 0:
        return "0s"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 1:
        # Go's int64(v) is the minimum int64 for values out of its range (amd64), and
        # Go's / and % truncate toward zero: a huge duration prints negative, as in Go.
        whole = int(value) if value < 2**63 else -(2**63)
        seconds, minutes = _rem(whole, 60), _rem(_quo(whole, 60), 60)
        hours, days = _rem(_quo(_quo(whole, 60), 60), 24), _quo(_quo(_quo(whole, 60), 60), 24)
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{go_g4(value)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if value >= 1:
            break
        prefix, value = p, value * 1000
    return f"{sign}{go_g4(value)}{prefix}s"


def _quo(a: int, b: int) -> int:
    """Go's integer division, truncating toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _rem(a: int, b: int) -> int:
    return a - b * _quo(a, b)


def go_float(value: float) -> str:
    """How text/template prints a float64 (`%v`, that is strconv's shortest `%g`): the
    shortest digits that round-trip, in exponent form when the decimal exponent is
    below -4 or at least 6 (so 1e6 prints as `1e+06`, 123456 as `123456`)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    # The shortest round-trip digits and the decimal exponent, from Python's repr.
    _, coefficient, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    figures = "".join(map(str, coefficient))
    exp = len(figures) + int(exponent) - 1
    neg = "-" if value < 0 else ""
    if exp < -4 or exp >= 6:
        body = figures[0] + ("." + figures[1:] if len(figures) > 1 else "")
        return f"{neg}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{neg}0.{'0' * (-exp - 1)}{figures}"
    whole, frac = figures[: exp + 1], figures[exp + 1 :]
    whole = whole + "0" * (exp + 1 - len(whole))
    return f"{neg}{whole}" + (f".{frac}" if frac else "")


FUNCTIONS = {
    "humanize": humanize,
    "humanize1024": humanize1024,
    "humanizePercentage": humanize_percentage,
    "humanizeDuration": humanize_duration,
}

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_VALUE = re.compile(r"^\$value(?:\s*\|\s*(\w+))?$|^(\w+)\s+\$value$")
_LABEL = re.compile(r"^\$labels\.([A-Za-z_]\w*)$")


class TemplateNotPredictable(ValueError):
    """An annotation uses template features the test generator does not model."""


def expand(template: str, labels: Labels, value: float) -> str:
    """Expand the subset of Prometheus templates rulesgen predicts for tests:
    `{{ $value }}`, `{{ $value | fn }}`, `{{ fn $value }}` and `{{ $labels.name }}`."""
    label_map = dict(labels)

    def action(match: re.Match[str]) -> str:
        body = match.group(1)
        value_match = _VALUE.match(body)
        if value_match:
            fn = value_match.group(1) or value_match.group(2)
            if fn is None:
                return go_float(value)
            if fn not in FUNCTIONS:
                raise TemplateNotPredictable(f"template function {fn!r}")
            return FUNCTIONS[fn](value)
        label_match = _LABEL.match(body)
        if label_match:
            return label_map.get(label_match.group(1), "")
        raise TemplateNotPredictable(f"template action {{{{ {body} }}}}")

    return _ACTION.sub(action, template)
