"""rulesgen's own templates in summaries and descriptions: `[[ threshold ]]` is filled
in at generate time; `{{ $value }}` is left for Prometheus to expand when it fires."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import jinja2

from rulesgen.promql import number

# The two template languages must not share delimiters.
_JINJA = jinja2.Environment(
    variable_start_string="[[",
    variable_end_string="]]",
    block_start_string="[%",
    block_end_string="%]",
    comment_start_string="[#",
    comment_end_string="#]",
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
)


def _percent(value: float) -> str:
    return number(round(value * 100, 10)) + "%"


_JINJA.filters["num"] = number
_JINJA.filters["percent"] = _percent

TemplateError = jinja2.TemplateError


@lru_cache(maxsize=4096)
def _template(source: str) -> jinja2.Template:
    return _JINJA.from_string(source)


_SIMPLE = re.compile(r"\[\[\s*([A-Za-z_]\w*)\s*(?:\|\s*([A-Za-z_]\w*)\s*)?\]\]")


def render_template(template: str, variables: dict[str, Any]) -> str:
    """Render `[[ ... ]]` placeholders; raises TemplateError.

    Templates made only of `[[ name ]]` and `[[ name | filter ]]` are filled in
    directly, with Jinja's semantics: compiling a Jinja template costs about a
    millisecond, which dominates a 5,000-alert spec. Anything richer goes to Jinja.
    """
    if "[%" in template or "[#" in template or _SIMPLE.sub("", template).count("[[") > 0:
        return _template(template).render(variables)

    def substitute(match: re.Match[str]) -> str:
        name, filter_name = match.group(1), match.group(2)
        if name not in variables:
            raise jinja2.UndefinedError(f"{name!r} is undefined")
        value = variables[name]
        if filter_name is None:
            return str(value)
        if filter_name not in _JINJA.filters:
            raise jinja2.TemplateAssertionError(f"No filter named {filter_name!r}.", 1)
        return str(_JINJA.filters[filter_name](value))

    return _SIMPLE.sub(substitute, template)


def message(exc: jinja2.TemplateError) -> str:
    return f"template error: {exc.message or exc}"
