"""The user-facing spec: what an SRE writes in thresholds.yaml.

Kept apart from the IR on purpose (as sloth does): this layer is about
ergonomics and validation messages, the IR about what emitters need.
Alert kinds contribute their own models from `rulesgen.kinds`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict

from rulesgen.promql import ALERT_NAME_RE, LABEL_NAME_RE, METRIC_NAME_RE, Duration

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _pattern(regex: re.Pattern[str], what: str) -> Any:
    def check(value: str) -> str:
        if not regex.match(value):
            raise ValueError(f"{value!r} is not a valid {what} (must match {regex.pattern})")
        return value

    return AfterValidator(check)


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError(f"{value!r} contains a newline or control character, which cannot appear in a label value")
    return value


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or _CONTROL.search(value) or " " in value:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


MetricName = Annotated[str, _pattern(METRIC_NAME_RE, "metric name")]
LabelName = Annotated[str, _pattern(LABEL_NAME_RE, "label name")]
AlertName = Annotated[str, _pattern(ALERT_NAME_RE, "alert name (CamelCase identifier)")]
Identifier = Annotated[str, _pattern(re.compile(r"^[a-z][a-z0-9_-]*$"), "name (lowercase identifier)")]
LabelValue = Annotated[str, AfterValidator(_no_control)]
Url = Annotated[str, AfterValidator(_url)]
Ratio = Annotated[float, Field(ge=0, le=1)]
NonNegative = Annotated[float, Field(ge=0)]


class StrictModel(BaseModel):
    """Unknown keys are errors (a `treshold` typo must not be ignored) and types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class MetricType(StrEnum):
    counter = "counter"
    gauge = "gauge"
    histogram = "histogram"


class Direction(StrEnum):
    above = "above"
    below = "below"

    @property
    def op(self) -> str:
        return ">" if self is Direction.above else "<"


# Enums are read from YAML text; strict mode would otherwise demand enum instances.
DirectionField = Annotated[Direction, Strict(False)]
MetricTypeField = Annotated[MetricType, Strict(False)]


class SetRef(StrictModel):
    """`{set: mainnet_networks}`: the values of a named label set."""

    set: Identifier


class NotMatcher(StrictModel):
    """`{not: polygon-amoy}` or `{not: [a, b]}`: every value but these."""

    not_: LabelValue | list[LabelValue] = Field(alias="not")


MatcherSpec = LabelValue | Annotated[list[LabelValue], Field(min_length=1)] | SetRef | NotMatcher


class SelectorSpec(StrictModel):
    """A metric and the label matchers that scope it."""

    metric: MetricName
    matchers: dict[LabelName, MatcherSpec] = Field(default_factory=dict)


class ExampleSeries(StrictModel):
    """One input series in promtool notation."""

    series: str
    values: str


class ExampleExpectation(StrictModel):
    """At `at`, exactly these label sets (the alert's grouping labels) fire; [] means silent."""

    at: Duration
    alert: str | None = None
    firing: list[dict[LabelName, LabelValue]] = Field(default_factory=list)


class Example(StrictModel):
    """An SRE-written test case for one alert."""

    name: str = ""
    interval: Duration = Duration.parse("1m")
    input_series: Annotated[list[ExampleSeries], Field(min_length=1)]
    expect: Annotated[list[ExampleExpectation], Field(min_length=1)]


class MetricSpec(StrictModel):
    type: MetricTypeField
    labels: list[LabelName] = Field(default_factory=list)
    help: str = ""


class LabelSet(StrictModel):
    """A named list of label values, such as the mainnet networks."""

    label: LabelName
    values: Annotated[list[LabelValue], Field(min_length=1)]
    # Values that exist but are outside the set; generated tests use them to
    # prove the alert stays silent for them (testnets for a mainnet alert).
    others: list[LabelValue] = Field(default_factory=list)
    description: str = ""


class TeamSpec(StrictModel):
    description: str = ""


class SeveritySpec(StrictModel):
    description: str = ""


class EnvironmentSpec(StrictModel):
    labels: dict[LabelName, LabelValue] = Field(default_factory=dict)
    # Typed later, against the kind of the alert each key names (lower.py).
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Settings(StrictModel):
    runbook_base_url: Url
    grafana_base_url: Url
    evaluation_interval: Duration = Duration.parse("1m")


class SpecHeader(StrictModel):
    """Everything but the alerts, which are validated one by one so one bad
    alert does not hide the errors of the others."""

    version: Literal[1]
    settings: Settings
    environments: Annotated[dict[Identifier, EnvironmentSpec], Field(min_length=1)]
    teams: Annotated[dict[Identifier, TeamSpec], Field(min_length=1)]
    severities: Annotated[dict[Identifier, SeveritySpec], Field(min_length=1)]
    metrics: dict[MetricName, MetricSpec]
    label_sets: dict[Identifier, LabelSet] = Field(default_factory=dict)
    alerts: list[Any]
