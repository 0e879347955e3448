"""PromQL building blocks: durations, names, label matchers and selector text.

Everything that turns spec values into PromQL text goes through here, so quoting
and escaping are decided in one place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Alert names become the `alertname` label and template names; we hold them to
# identifier syntax so they also work as file names and Grafana panel keys.
ALERT_NAME_RE = re.compile(r"^[A-Z][a-zA-Z0-9_]*$")
DURATION_RE = re.compile(
    r"^(?:(?P<y>\d+)y)?(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?"
    r"(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?$"
)
_UNIT_MS = {
    "y": 365 * 86400_000,
    "w": 7 * 86400_000,
    "d": 86400_000,
    "h": 3600_000,
    "m": 60_000,
    "s": 1000,
    "ms": 1,
}


@lru_cache(maxsize=1024)
def _format_ms(ms: int) -> str:
    if ms == 0:
        return "0s"
    out, rest = "", ms
    for unit in ("w", "d", "h", "m", "s", "ms"):  # `y` is ambiguous for humans; weeks read better
        count, rest = divmod(rest, _UNIT_MS[unit])
        if count:
            out += f"{count}{unit}"
    return out


@dataclass(frozen=True, order=True)
class Duration:
    """A Prometheus duration, kept in milliseconds and printed canonically (`90s` -> `1m30s`)."""

    ms: int

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = DURATION_RE.match(text)
        if not text or match is None or not any(match.groupdict().values()):
            raise ValueError(f"{text!r} is not a Prometheus duration (like 30s, 5m, 1h30m, 1w)")
        return cls(sum(int(v) * _UNIT_MS[k] for k, v in match.groupdict().items() if v))

    @property
    def seconds(self) -> float:
        return self.ms / 1000

    def __str__(self) -> str:
        return _format_ms(self.ms)

    def __add__(self, other: Duration) -> Duration:
        return Duration(self.ms + other.ms)

    def __mul__(self, factor: int) -> Duration:
        return Duration(self.ms * factor)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value: Any) -> Duration:
            if isinstance(value, Duration):
                return value
            if not isinstance(value, str):
                raise PydanticCustomError(
                    "duration_type",
                    "expected a duration string such as '5m', got {got}",
                    {"got": repr(value)},
                )
            try:
                return cls.parse(value)
            except ValueError as exc:
                raise PydanticCustomError("duration", str(exc)) from None

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": DURATION_RE.pattern, "examples": ["5m", "1h30m"]}


def escape_string(value: str) -> str:
    """A PromQL double-quoted string literal for `value`.

    Control characters are rejected by the spec validators before we get here;
    quotes and backslashes are escaped so a label value can never end the literal.
    """
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# RE2 metacharacters. `-` and `/` are left alone: they are literal outside a
# character class, and `/v1/nodes` reads better than `\/v1\/nodes`.
_RE2_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def regex_union(values: Iterable[str]) -> str:
    """An RE2 alternation matching exactly the given literal values."""
    return "|".join(_RE2_META.sub(r"\\\1", v) for v in sorted(set(values)))


@dataclass(frozen=True)
class Matcher:
    """One label matcher; `values` with more than one entry becomes `=~`."""

    label: str
    values: tuple[str, ...]
    negate: bool = False

    def render(self) -> str:
        if len(self.values) == 1:
            op = "!=" if self.negate else "="
            return f"{self.label}{op}{escape_string(self.values[0])}"
        op = "!~" if self.negate else "=~"
        return f"{self.label}{op}{escape_string(regex_union(self.values))}"

    def matches(self, value: str) -> bool:
        return (value in self.values) != self.negate


def selector(metric: str, matchers: Iterable[Matcher] = ()) -> str:
    """`metric{a="b",c=~"d|e"}` with matchers sorted by label for stable output."""
    parts = [m.render() for m in sorted(matchers, key=lambda m: m.label)]
    return f"{metric}{{{','.join(parts)}}}" if parts else metric


def by_clause(labels: Iterable[str]) -> str:
    labels = sorted(labels)
    return f" by ({', '.join(labels)})" if labels else ""


def aggregate(func: str, labels: Iterable[str], inner: str) -> str:
    return f"{func}{by_clause(labels)} ({inner})"


def number(value: float) -> str:
    """Shortest exact text for a threshold (`5`, `0.1`, `1e-05`)."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def label_items(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def panel_query(expr: str) -> str:
    """A dashboard query with Grafana's variables replaced, so PromQL tools can parse it."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: "5m" if m.group(1).startswith("__") else ".*", expr)
