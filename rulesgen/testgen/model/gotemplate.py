"""Go template functions as Prometheus applies them to annotations: humanize,
humanize1024, humanizePercentage, humanizeDuration and the bare `{{ $value }}`,
which Go prints with `%g`-like formatting (1e+06, not 1000000)."""

from __future__ import annotations

import math
import re

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
        whole = int(value)
        seconds, minutes, hours, days = whole % 60, (whole // 60) % 60, (whole // 3600) % 24, whole // 86400
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


def go_float(value: float) -> str:
    """How text/template prints a float64 (`%v`): shortest repr, exponent past 1e21."""
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


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
