"""How an alert's conditions read in the IR (`explain`, the catalog, `diff`, lint): each
quantity names the selectors it reads with their matchers, and each comparison carries
its spec field's value as the spec writes it.

A ratio's words name its numerator and denominator by metric alone, which reads as
`rate of x / rate of x` when both count one metric under different matchers; the alert's
reads hold the selectors, in the order the words name them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pydantic import BaseModel

from rulesgen.ir import Absent, All, Compare, Condition, Selector, param_path
from rulesgen.promql import Duration, number

_WORD = re.compile(r"[a-zA-Z_:][\w:]*")


def spelled(condition: Condition, model: BaseModel, reads: Sequence[Selector]) -> Condition:
    """`condition` with its words naming `reads` and each comparison's `written` set."""
    if isinstance(condition, All):
        return All(tuple(spelled(c, model, reads) for c in condition.conditions))
    if isinstance(condition, Absent):
        return replace(condition, what=named(condition.what, reads))
    quantity = replace(condition.quantity, what=named(condition.quantity.what, reads))
    return replace(condition, quantity=quantity, written=written(model, condition))


def named(what: str, reads: Sequence[Selector]) -> str:
    """`what` with each bare metric name replaced by its selector, when the bare names it
    mentions are the reads' metrics, in order. Words that already spell a selector
    (`x{status="failed"}`), or name only some of the reads (which of two reads of one
    metric would be ambiguous), are left as they are."""
    metrics = {r.metric for r in reads}
    bare = [m for m in _WORD.finditer(what) if m.group() in metrics and not what.startswith("{", m.end())]
    if [m.group() for m in bare] != [r.metric for r in reads]:
        return what
    out, at = [], 0
    for match, read in zip(bare, reads, strict=True):
        out += [what[at : match.start()], str(read)]
        at = match.end()
    return "".join(out) + what[at:]


def written(model: BaseModel, compare: Compare) -> str:
    """The value of the spec field `compare.param` names, as the spec writes it."""
    value = _field(model, param_path(compare.param))
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(value)
    return ""


def _field(node: Any, path: Sequence[str | int]) -> Any:
    for part in path:
        if isinstance(part, int):
            node = node[part] if isinstance(node, (list, tuple)) and part < len(node) else None
        elif isinstance(node, BaseModel):
            fields = type(node).model_fields
            name = next((n for n, info in fields.items() if part in (n, info.alias)), None)
            node = getattr(node, name) if name else None
        else:
            return None
    return node
