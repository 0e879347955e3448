"""Alertmanager routing from the spec: receivers per team, a route per team and
severity, inhibition rules as data, and the receiver every alert should reach.
The checks that routes and inhibitions resolve are lint checks (RG109, RG110)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rulesgen import conventions
from rulesgen.ir import Absent, Alert, AlertmanagerIR, InhibitRule, Receiver, Route
from rulesgen.promql import escape_string
from rulesgen.spec.models import ReceiverSpec
from rulesgen.spec.validate import Document


def role_for(spec: Document, env: str, severity: str) -> str | None:
    """The receiver role a severity goes to in an environment (None: nowhere)."""
    routing = spec.header.environments[env].routing
    if severity in routing:
        return routing[severity]
    return spec.header.severities[severity].route_to


def expected_receiver(spec: Document, env: str, labels: Mapping[str, str]) -> str:
    """Where an alert with these labels must land, derived from the spec alone."""
    return conventions.receiver_name(labels["team"], role_for(spec, env, labels["severity"]))


def matcher(label: str, value: str) -> str:
    return f"{label}={escape_string(value)}"


def _integrations(receiver: ReceiverSpec) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    out: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    if receiver.pagerduty:
        out.append(("pagerduty_configs", (("routing_key_file", receiver.pagerduty.routing_key_file),)))
    if receiver.slack:
        out.append(
            (
                "slack_configs",
                (("api_url_file", receiver.slack.api_url_file), ("channel", receiver.slack.channel)),
            )
        )
    if receiver.webhook:
        settings = [("url", receiver.webhook.url)]
        if receiver.webhook.credentials_file:
            settings.append(("credentials_file", receiver.webhook.credentials_file))
        out.append(("webhook_configs", tuple(settings)))
    return tuple(out)


def guard_inhibitions(alerts: Sequence[Alert]) -> tuple[InhibitRule, ...]:
    """While an absence of a whole selector fires (`absent(billing_transactions_total)`),
    every absence per scope within it fires for each of its scopes too (the absence
    guards): the one page that says it all is the whole one's. A generated guard waits
    at least as long (`spec.guards`), so Alertmanager holds the source when it arrives."""
    wholes = [(a, leaf) for a in alerts for leaf in _absences(a) if not leaf.per]
    out = []
    for guard in alerts:
        for scoped in (leaf for leaf in _absences(guard) if leaf.per):
            for whole, leaf in wholes:
                inside = set(leaf.selector.matchers) <= set(scoped.selector.matchers)
                if leaf.selector.metric == scoped.selector.metric and inside:
                    out.append(
                        InhibitRule(
                            name=f"{whole.name} explains {guard.name}",
                            source=(matcher("alertname", whole.name),),
                            target=(matcher("alertname", guard.name),),
                            equal=("env",),
                        )
                    )
    return tuple(dict.fromkeys(out))


def _absences(alert: Alert) -> list[Absent]:
    """The absences an alert fires on alone (a rule whose whole condition is one)."""
    return [rule.condition for rule in alert.rules if isinstance(rule.condition, Absent)]


def alertmanager_ir(spec: Document, env: str, alerts: Sequence[Alert] = ()) -> AlertmanagerIR:
    """The routing tree of one environment: team, then severity; the spec's inhibit
    rules, then those that keep absence guards quiet under their metric's absent alert."""
    header = spec.header
    team_routes = []
    for team in header.teams:
        severity_routes = []
        for severity, sev in header.severities.items():
            severity_routes.append(
                Route(
                    receiver=conventions.receiver_name(team, role_for(spec, env, severity)),
                    matchers=(matcher("severity", severity),),
                    group_wait=sev.group_wait,
                    group_interval=sev.group_interval,
                    repeat_interval=sev.repeat_interval,
                )
            )
        team_routes.append(
            Route(
                conventions.NULL_RECEIVER, (matcher("team", team), matcher("env", env)), routes=tuple(severity_routes)
            )
        )
    receivers = [Receiver(conventions.NULL_RECEIVER)]
    for team, team_spec in header.teams.items():
        for role, receiver in team_spec.receivers.items():
            receivers.append(Receiver(conventions.receiver_name(team, role), _integrations(receiver)))
    inhibit = tuple(
        InhibitRule(
            name=rule.name,
            source=tuple(matcher(k, v) for k, v in sorted(rule.source.items())),
            target=tuple(matcher(k, v) for k, v in sorted(rule.target.items())),
            equal=tuple(rule.equal),
        )
        for rule in header.alertmanager.inhibit_rules
    ) + guard_inhibitions(alerts)
    root = Route(
        receiver=conventions.NULL_RECEIVER,
        routes=tuple(team_routes),
    )
    return AlertmanagerIR(
        route=root,
        receivers=tuple(sorted(receivers, key=lambda r: r.name)),
        inhibit_rules=inhibit,
        resolve_timeout=header.alertmanager.resolve_timeout,
        group_by=tuple(header.alertmanager.group_by),
    )
