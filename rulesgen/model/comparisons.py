"""PromQL's comparison operators on two numbers, as a filtering comparison applies them:
what backtest and `rulesgen verify` evaluate a condition's leaf with."""

from __future__ import annotations

import operator
from collections.abc import Callable

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
