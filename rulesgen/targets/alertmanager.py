"""Alertmanager configuration: `<env>/alertmanager/alertmanager.yml`."""

from __future__ import annotations

from typing import Any

from rulesgen.ir import AlertmanagerIR, ProgramIR, Receiver, Route
from rulesgen.targets.base import Files, Options, Target, Tests, header
from rulesgen.targets.yamlout import dump


def route_dict(route: Route, group_by: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"receiver": route.receiver}
    if group_by:
        out["group_by"] = list(group_by)
    if route.matchers:
        out["matchers"] = list(route.matchers)
    for key in ("group_wait", "group_interval", "repeat_interval"):
        value = getattr(route, key)
        if value is not None:
            out[key] = str(value)
    if route.routes:
        out["routes"] = [route_dict(r) for r in route.routes]
    return out


def receiver_dict(receiver: Receiver) -> dict[str, Any]:
    out: dict[str, Any] = {"name": receiver.name}
    for integration, settings in receiver.integrations:
        config: dict[str, Any] = {}
        for key, value in settings:
            if key == "credentials_file":
                # A webhook's token is sent as an Authorization header read from the file.
                config["http_config"] = {"authorization": {"credentials_file": value}}
            else:
                config[key] = value
        config["send_resolved"] = True
        out[integration] = [config]
    return out


def config_document(am: AlertmanagerIR) -> dict[str, Any]:
    return {
        "global": {"resolve_timeout": str(am.resolve_timeout)},
        "route": route_dict(am.route, am.group_by),
        "receivers": [receiver_dict(r) for r in am.receivers],
        "inhibit_rules": [
            {"source_matchers": list(r.source), "target_matchers": list(r.target), "equal": list(r.equal)}
            for r in am.inhibit_rules
        ],
    }


def emit(program: ProgramIR, tests: Tests, options: Options) -> Files:
    files: Files = {}
    for env in program.envs:
        if env.alertmanager is None:
            continue
        files[f"{env.env}/alertmanager/alertmanager.yml"] = dump(
            config_document(env.alertmanager), header(program.source, f"{env.env} Alertmanager configuration")
        )
    return files


TARGET = Target("alertmanager", Options, emit, description="Alertmanager routing, receivers and inhibitions")
