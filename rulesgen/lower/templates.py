"""rulesgen's own templates in summaries and descriptions: `[[ threshold ]]` is filled
in at generate time; `{{ $value }}` is left for Prometheus to expand when it fires.

A template is data, not code: CI compiles the spec of every pull request, so the only
forms are `[[ name ]]` and `[[ name | filter ]]` over the alert's fields and a fixed
set of filters. Nothing is evaluated, so nothing runs, recurses or grows."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping

from rulesgen.promql import number

# What a field may hold for a template to print it: a list or a mapping has no one text.
Scalar = str | int | float | bool


class TemplateError(ValueError):
    """A `[[ ... ]]` template that does not render; the message is for the spec's author."""


def _finite(value: Scalar, filter_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TemplateError(f"filter {filter_name!r} needs a number, not {value!r}")
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        raise TemplateError(f"filter {filter_name!r} needs a finite number")
    return result


def _num(value: Scalar) -> str:
    return number(_finite(value, "num"))


def _percent(value: Scalar) -> str:
    percent = round(_finite(value, "percent") * 100, 10)
    if not math.isfinite(percent):
        raise TemplateError("filter 'percent' needs a finite number")
    return number(percent) + "%"


FILTERS: Mapping[str, Callable[[Scalar], str]] = {"num": _num, "percent": _percent}

_NAME = r"[A-Za-z_]\w*"
_OPEN = re.compile(r"\[\[|\[%|\[#")
_PLACEHOLDER = re.compile(rf"\[\[\s*({_NAME})\s*(?:\|\s*({_NAME})\s*)?\]\]")
_FORMS = "a template is [[ name ]] or [[ name | filter ]] (filters: " + ", ".join(FILTERS) + ")"


def render_template(template: str, variables: Mapping[str, object]) -> str:
    """Fill in each `[[ name ]]` and `[[ name | filter ]]`; raises TemplateError on
    anything else between `[[` and `]]`, and on `[% ... %]` or `[# ... #]`."""
    out: list[str] = []
    pos = 0
    for opening in _OPEN.finditer(template):
        start = opening.start()
        if start < pos:
            continue  # inside a placeholder already consumed
        out.append(template[pos:start])
        if opening.group() != "[[":
            raise TemplateError(f"{opening.group()} ... blocks are not supported; {_FORMS}")
        match = _PLACEHOLDER.match(template, start)
        if match is None:
            raise TemplateError(f"{_excerpt(template, start)} is not supported; {_FORMS}")
        out.append(_substitute(match.group(1), match.group(2), variables))
        pos = match.end()
    out.append(template[pos:])
    return "".join(out)


def _substitute(name: str, filter_name: str | None, variables: Mapping[str, object]) -> str:
    if name not in variables:
        raise TemplateError(f"{name!r} is undefined")
    value = variables[name]
    if not isinstance(value, Scalar):
        raise TemplateError(f"{name!r} is not a single value a template can print")
    if filter_name is None:
        return str(value)
    if filter_name not in FILTERS:
        raise TemplateError(f"no filter named {filter_name!r}; filters: {', '.join(FILTERS)}")
    return FILTERS[filter_name](value)


def _excerpt(template: str, start: int, limit: int = 40) -> str:
    """The unsupported `[[ ... ]]`, shortened: the message is one line."""
    end = template.find("]]", start)
    text = template[start : end + 2] if end >= 0 else template[start:] + " (no closing ]])"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def message(exc: TemplateError) -> str:
    return f"template error: {exc}"
