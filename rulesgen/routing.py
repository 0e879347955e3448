"""Alertmanager routing from the spec: receivers per team, a route per team and
severity, inhibition rules as data, and the receiver every alert should reach."""

from __future__ import annotations

from collections.abc import Mapping

from rulesgen import conventions
from rulesgen.errors import SpecError
from rulesgen.ir import AlertmanagerIR, CompiledAlert, InhibitRule, Receiver, Route
from rulesgen.promql import escape_string
from rulesgen.spec.models import ReceiverSpec
from rulesgen.spec.validate import Spec


def role_for(spec: Spec, env: str, severity: str) -> str | None:
    """The receiver role a severity goes to in an environment (None: nowhere)."""
    routing = spec.header.environments[env].routing
    if severity in routing:
        return routing[severity]
    return spec.header.severities[severity].route_to


def expected_receiver(spec: Spec, env: str, labels: Mapping[str, str]) -> str:
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


def check_routing(spec: Spec, alerts: list[CompiledAlert], env: str, errors: list[SpecError]) -> None:
    """Every route reaches a declared receiver; inhibit rules name known alerts and labels."""
    header = spec.header
    pos = spec.positions
    for severity in header.environments[env].routing:
        if severity not in header.severities:
            errors.append(
                pos.error(("environments", env, "routing", severity), f"unknown severity {severity!r}", key=True)
            )
    names: dict[str, str] = {}
    for team, team_spec in header.teams.items():
        for role in team_spec.receivers:
            name = conventions.receiver_name(team, role)
            if name in names and names[name] != team:
                errors.append(
                    pos.error(("teams", team, "receivers", role), f"duplicate receiver name {name!r}", key=True)
                )
            names[name] = team
        for severity in header.severities:
            routed = role_for(spec, env, severity)
            if routed is not None and routed not in team_spec.receivers:
                where = (
                    ("environments", env, "routing", severity)
                    if severity in header.environments[env].routing
                    else ("severities", severity, "route_to")
                )
                errors.append(
                    pos.error(
                        where,
                        f"{severity} alerts route to receiver {routed!r}, which team {team!r} does not declare "
                        f"(it has: {', '.join(team_spec.receivers) or 'none'})",
                    )
                )
    known_labels = {"alertname"}
    static: list[dict[str, str]] = []  # what is known of every alert rule's labels before it fires
    for compiled in alerts:
        known_labels |= set(compiled.spec.grouping())
        if not compiled.spec.grouping():  # ungrouped alerts keep every label of their series
            for use in compiled.spec.selectors():
                known_labels |= set(header.metrics[use.selector.metric].labels)
        for rule in compiled.rules:
            known_labels |= {k for k, _ in rule.labels}
            static.append({"alertname": rule.alert, **dict(rule.labels)})
    alert_names = {a.name for a in spec.alerts}
    for i, inhibit in enumerate(header.alertmanager.inhibit_rules):
        at = ("alertmanager", "inhibit_rules", i)
        for side in ("source", "target"):
            matchers = getattr(inhibit, side)
            for label, value in matchers.items():
                if label not in known_labels:
                    errors.append(pos.error((*at, side, label), f"no alert carries label {label!r}", key=True))
                elif label == "alertname" and value not in alert_names:
                    errors.append(pos.error((*at, side, label), f"unknown alert {value!r}"))
            if not any(all(s.get(k, v) == v for k, v in matchers.items()) for s in static):
                errors.append(pos.error((*at, side), f"inhibit rule {inhibit.name!r}: no alert matches its {side}"))
        for j, label in enumerate(inhibit.equal):
            if label not in known_labels:
                errors.append(pos.error((*at, "equal", j), f"no alert carries label {label!r}"))


def alertmanager_ir(spec: Spec, env: str) -> AlertmanagerIR:
    """The routing tree of one environment: team, then severity."""
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
    )
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
