"""The user-facing spec: what an SRE writes in thresholds.yaml.

Kept apart from the IR on purpose (as sloth does): this layer is about
ergonomics and validation messages, the IR about what emitters need.
Alert kinds contribute their own models from `rulesgen.kinds`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rulesgen.model import goparse
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


# Query (or fragment) parameter names that carry a credential: `access_token`, `apiKey`,
# `X-Amz-Signature`, `sig`, `password`, `client_secret`, `auth`.
_SECRET_PARAM = re.compile(
    r"token|secret|passw|pwd|signature|credential|api[-_.]?key|auth|(?:^|[-_.])(?:key|sig|pass)(?:[-_.]|$)", re.I
)


def secret_in_url(value: str) -> str | None:
    """Why `value` would put a credential into a generated file, or None."""
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        return "the URL carries credentials (user:password@)"
    for where, text in (("query", parts.query), ("fragment", parts.fragment)):
        for name, _ in parse_qsl(text, keep_blank_values=True):
            if _SECRET_PARAM.search(name):
                return f"the URL's {where} parameter {name!r} looks like a credential"
    return None


def _no_secret(value: str) -> str:
    reason = secret_in_url(value)
    if reason:
        raise ValueError(
            f"inline secret: {reason}; secrets never go into generated files (every URL is copied into them)"
        )
    return value


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or _CONTROL.search(value) or " " in value:
        raise ValueError(f"{value!r} is not an http(s) URL")
    # Runbook and dashboard URLs become annotations, which Prometheus expands as templates.
    try:
        goparse.check(value)
    except goparse.GoTemplateError as exc:
        raise ValueError(f"Go template error (Prometheus would refuse it): {exc}") from None
    return _no_secret(value)


def _positive(value: Duration) -> Duration:
    if value.ms <= 0:
        raise ValueError(f"{value} must be longer than 0s")
    return value


# Windows, offsets, floors and sample intervals: a zero one is meaningless PromQL.
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
MetricName = Annotated[str, _pattern(METRIC_NAME_RE, "metric name")]
LabelName = Annotated[str, _pattern(LABEL_NAME_RE, "label name")]
AlertName = Annotated[str, _pattern(ALERT_NAME_RE, "alert name (CamelCase identifier)")]
# Environment and team names become directories, file names and Kubernetes object names
# (`rulesgen-<env>-<team>`): a DNS-1123 label's 63 characters keep every one of them valid.
IDENTIFIER_MAX = 63


def _short(value: str) -> str:
    if len(value) > IDENTIFIER_MAX:
        raise ValueError(
            f"{value[:20]!r}... is {len(value)} characters; names are at most {IDENTIFIER_MAX} "
            "(they become directories, file names and Kubernetes object names)"
        )
    return value


Identifier = Annotated[
    str, _pattern(re.compile(r"^[a-z][a-z0-9_-]*$"), "name (lowercase identifier)"), AfterValidator(_short)
]
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


class NotSetRef(StrictModel):
    """`{not_set: mainnet_networks}`: every value outside a label set's values and its
    `others`, the empty value (no label) included: what no alert of the set sees."""

    not_set: Identifier


class NotMatcher(StrictModel):
    """`{not: polygon-amoy}` or `{not: [a, b]}`: every value but these."""

    not_: LabelValue | list[LabelValue] = Field(alias="not")


MatcherSpec = LabelValue | Annotated[list[LabelValue], Field(min_length=1)] | SetRef | NotSetRef | NotMatcher


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
    interval: PositiveDuration = Duration.parse("1m")
    input_series: Annotated[list[ExampleSeries], Field(min_length=1)]
    expect: Annotated[list[ExampleExpectation], Field(min_length=1)]


class MetricSpec(StrictModel):
    type: MetricTypeField
    labels: list[LabelName] = Field(default_factory=list)
    help: str = ""
    always_present: bool = Field(
        default=False,
        description=(
            "while its exporter is up, the metric has series for every value the paging alerts "
            "select it by (exported from the start, at 0 for a counter, or carrying steady traffic): "
            "a scope with no series means a dead exporter or a renamed metric, never that nothing "
            "happened yet, so rulesgen adds an absence guard per scope of each paging alert that "
            "reads it. Off by default: a counter that a client library creates with its first "
            "event would page on every deploy"
        ),
    )

    @field_validator("always_present")
    @classmethod
    def _guarded_types(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("type") is MetricType.histogram:
            raise ValueError(
                "always_present is for counters and gauges: a histogram's series are its "
                "_bucket, _count and _sum, which an absence guard does not read"
            )
        return value


class LabelSet(StrictModel):
    """A named list of label values, such as the mainnet networks."""

    label: LabelName
    values: Annotated[list[LabelValue], Field(min_length=1)]
    # Values that exist but are outside the set; generated tests use them to
    # prove the alert stays silent for them (testnets for a mainnet alert).
    others: list[LabelValue] = Field(default_factory=list)
    description: str = ""


# Keys that would put a credential into a generated file, and where it belongs instead.
SECRET_KEYS = {
    "routing_key": "routing_key_file",
    "service_key": "service_key_file",
    "api_url": "api_url_file",
    "api_key": "api_key_file",
    "password": "password_file",
    "auth_password": "auth_password_file",
    "token": "credentials_file",
    "credentials": "credentials_file",
    "bot_token": "bot_token_file",
}
_SECRETISH_QUERY = re.compile(r"(token|key|secret|sig|signature|password|auth)", re.I)


def _reject_inline_secrets(data: Any) -> Any:
    if isinstance(data, dict):
        for key, instead in SECRET_KEYS.items():
            if key in data:
                raise ValueError(
                    f"inline secret {key!r}: secrets never go into generated files; "
                    f"store it in a file mounted into Alertmanager and set {instead!r}"
                )
    return data


def _absolute_path(value: str) -> str:
    if not value.startswith("/") or _CONTROL.search(value):
        raise ValueError(f"{value!r} is not an absolute file path")
    return value


def _webhook_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.username or parts.password:
        raise ValueError("inline secret: the webhook URL carries credentials; use credentials_file")
    if parts.query and _SECRETISH_QUERY.search(parts.query):
        raise ValueError("inline secret: the webhook URL carries a token in its query; use credentials_file")
    if parts.hostname and parts.hostname.endswith("hooks.slack.com"):
        raise ValueError("inline secret: a Slack webhook URL is a credential; use a slack receiver with api_url_file")
    return _url(value)


FilePath = Annotated[str, AfterValidator(_absolute_path)]
WebhookUrl = Annotated[str, AfterValidator(_webhook_url)]


class SecretFreeModel(StrictModel):
    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        return _reject_inline_secrets(data)


class PagerdutyReceiver(SecretFreeModel):
    routing_key_file: FilePath


class SlackReceiver(SecretFreeModel):
    api_url_file: FilePath
    channel: str


class WebhookReceiver(SecretFreeModel):
    url: WebhookUrl
    credentials_file: FilePath | None = None


class ReceiverSpec(SecretFreeModel):
    """Where one team's notifications of one kind (pager, chat, ...) go."""

    pagerduty: PagerdutyReceiver | None = None
    slack: SlackReceiver | None = None
    webhook: WebhookReceiver | None = None

    @model_validator(mode="after")
    def _one_at_least(self) -> ReceiverSpec:
        if not (self.pagerduty or self.slack or self.webhook):
            raise ValueError("a receiver needs one of pagerduty, slack or webhook")
        return self


class TeamSpec(StrictModel):
    description: str = ""
    # Keyed by role: severities route to a role (pager, chat), each team says where that goes.
    receivers: dict[Identifier, ReceiverSpec] = Field(default_factory=dict)


# The receiver role that wakes someone up: paging alerts get low-traffic checks (RG210)
# and absence guards.
PAGER_ROLE = "pager"


class SeveritySpec(StrictModel):
    description: str = ""
    route_to: Identifier | None = Field(default=None, description="receiver role; none: the null receiver")
    group_wait: Duration = Duration.parse("30s")
    # Alertmanager refuses zero for both ("repeat_interval cannot be zero").
    group_interval: PositiveDuration = Duration.parse("5m")
    repeat_interval: PositiveDuration = Duration.parse("4h")


class InhibitRuleSpec(StrictModel):
    """While an alert matching `source` fires, alerts matching `target` with equal `equal` labels are muted."""

    name: str
    source: Annotated[dict[LabelName, LabelValue], Field(min_length=1)]
    target: Annotated[dict[LabelName, LabelValue], Field(min_length=1)]
    equal: list[LabelName] = Field(default_factory=list)


class AlertmanagerSpec(StrictModel):
    group_by: list[LabelName] = Field(default_factory=lambda: ["alertname", "env", "network"])
    resolve_timeout: Duration = Duration.parse("5m")
    inhibit_rules: list[InhibitRuleSpec] = Field(default_factory=list)


class EnvironmentSpec(StrictModel):
    labels: dict[LabelName, LabelValue] = Field(default_factory=dict)
    # Typed later, against the kind of the alert each key names (lower.py).
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Severity -> receiver role in this environment (staging's critical alerts may go to chat).
    routing: dict[Identifier, Identifier | None] = Field(default_factory=dict)


class PanelOverride(StrictModel):
    title: str | None = None
    description: str | None = None


class QuerySpec(StrictModel):
    """One PromQL query of a board panel, drawn as its own series with its legend."""

    expr: str
    legend: str = ""


class PanelSpec(StrictModel):
    """A board panel: one query (`expr`, `legend`) or several (`queries`), never both.

    Series of different queries stay apart: joining them with `or` would drop every
    series whose labels another query already returned (a limit next to its usage)."""

    title: str
    expr: str = ""
    legend: str = ""
    # Grafana names a panel's queries A..Z (refId).
    queries: list[QuerySpec] = Field(default_factory=list, min_length=1, max_length=26)
    unit: str = "short"
    type: Literal["timeseries", "stat"] = "timeseries"
    width: int = Field(default=12, ge=3, le=24)

    @model_validator(mode="after")
    def _one_query_form(self) -> PanelSpec:
        # Which keys the spec wrote, not their values: `expr: ""` is still the one-query form.
        given = self.model_fields_set
        if "queries" not in given and "expr" not in given:
            raise ValueError("a panel needs expr (one query) or queries (a list of {expr, legend})")
        if "queries" in given and given & {"expr", "legend"}:
            raise ValueError(
                "a panel takes either expr (with legend) or queries, not both: move expr and legend into queries"
            )
        return self

    def all_queries(self) -> list[QuerySpec]:
        """The panel's queries in order, whichever form the spec used."""
        return list(self.queries) or [QuerySpec(expr=self.expr, legend=self.legend)]


class VariableSpec(StrictModel):
    """A dashboard variable listing the values of `label` on `metric`."""

    label: LabelName
    metric: MetricName


class BoardSpec(StrictModel):
    title: str
    tags: list[str] = Field(default_factory=list)
    variables: list[VariableSpec] = Field(default_factory=list)
    panels: Annotated[list[PanelSpec], Field(min_length=1)]


class DashboardSettings(StrictModel):
    # The platform's own pages, linked from every dashboard (playbook: Billing monitoring).
    platform_base_url: Url | None = None
    links: list[Annotated[str, AfterValidator(_no_secret)]] = Field(
        default_factory=list, description="paths under platform_base_url"
    )
    # Keyed by alert name: how that alert's panel on the overview reads.
    panel_overrides: dict[str, PanelOverride] = Field(default_factory=dict)
    boards: list[BoardSpec] = Field(default_factory=list)


class Settings(StrictModel):
    # Without these, alerts carry no runbook or dashboard link (lint warns: RG207, RG208).
    runbook_base_url: Url | None = None
    grafana_base_url: Url | None = None
    evaluation_interval: PositiveDuration = Duration.parse("1m")
    dashboards: DashboardSettings = Field(default_factory=DashboardSettings)


class Suppression(StrictModel):
    """Turns a warning off, with the reason a reviewer reads. Errors cannot be turned off."""

    check: Annotated[str, _pattern(re.compile(r"^RG\d{3}$"), "check ID (like RG203)")]
    reason: Annotated[str, Field(min_length=1)]


class LintSettings(StrictModel):
    disable: list[Suppression] = Field(default_factory=list)


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
    alertmanager: AlertmanagerSpec = Field(default_factory=AlertmanagerSpec)
    lint: LintSettings = Field(default_factory=LintSettings)
    # Target name -> its options, validated against the target's own model (emit.targets).
    targets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    alerts: list[Any]

    def pages(self, severity: str) -> bool:
        """Whether alerts of `severity` wake someone up: it routes to the pager role."""
        known = self.severities.get(severity)
        return known is not None and known.route_to == PAGER_ROLE
