"""Environment overrides: each alert as it is in one environment, and where each of its
fields was written, so a check on the result points at the override's line."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from rulesgen.errors import Diagnostic, Path, did_you_mean
from rulesgen.kinds.base import AlertModel
from rulesgen.spec.guards import guarded_by
from rulesgen.spec.validate import Document, pydantic_errors


@dataclass(frozen=True)
class EnvAlert:
    """One alert in one environment, with the fields the environment overrode."""

    model: AlertModel
    path: Path  # the alert in the spec: ("alerts", 3)
    override_path: Path | None  # ("environments", env, "overrides", name), when overridden
    overridden: frozenset[str]  # field names as written (`for`, not `for_`)

    def where(self, field: str) -> tuple[Path, bool]:
        """The spec path a field's value was written at, and whether that is an override."""
        if self.override_path is not None and field in self.overridden:
            return (*self.override_path, field), True
        return (*self.path, field), False


def fields_of(alert: AlertModel) -> dict[str, Any]:
    """The alert's values keyed as the spec writes them (`for`, not `for_`)."""
    return {info.alias or name: getattr(alert, name) for name, info in type(alert).model_fields.items()}


def apply_overrides(doc: Document, env: str, errors: list[Diagnostic]) -> list[EnvAlert]:
    """The alerts as they are in `env`, after its typed overrides (disabled ones included)."""
    overrides = doc.header.environments[env].overrides
    at: Path = ("environments", env, "overrides")
    for name in overrides:
        if not doc.has_alert(name):
            hint = did_you_mean(name, [a.name for a in doc.alerts])
            errors.append(
                _env(doc.positions.error((*at, name), f"override names unknown alert {name!r}{hint}", key=True), env)
            )
    out = []
    for alert in doc.alerts:
        path = doc.alert_path(alert.name)
        fields = overrides.get(alert.name)
        if fields is None:
            out.append(EnvAlert(alert, path, None, frozenset()))
            continue
        model = _override(doc, env, alert, fields, (*at, alert.name), errors)
        if model is not None:
            out.append(EnvAlert(model, path, (*at, alert.name), frozenset(fields)))
    return _follow_guarded(doc, out)


def _follow_guarded(doc: Document, alerts: list[EnvAlert]) -> list[EnvAlert]:
    """An absence guard is left out of an environment where none of the alerts it
    watches for is enabled and paging: nothing there is blind."""
    watched = guarded_by(a.model for a in alerts)
    paging = {a.model.name for a in alerts if a.model.enabled and doc.header.pages(a.model.severity)}
    return [
        replace(a, model=a.model.model_copy(update={"enabled": False}))
        if a.model.name in watched and not paging.intersection(watched[a.model.name])
        else a
        for a in alerts
    ]


def _override(
    doc: Document, env: str, alert: AlertModel, fields: dict[str, Any], at: Path, errors: list[Diagnostic]
) -> AlertModel | None:
    model = type(alert)
    known = {info.alias or n for n, info in model.model_fields.items()}
    bad = []
    for key in fields:
        if key in model.fixed_fields:
            bad.append(doc.positions.error((*at, key), f"{key!r} cannot be overridden", key=True))
        elif key not in known:
            hint = did_you_mean(key, sorted(known))
            message = f"{alert.kind} alert {alert.name} has no field {key!r}{hint}"
            bad.append(doc.positions.error((*at, key), message, key=True))
    if not bad:
        try:
            return model.model_validate({**fields_of(alert), **fields})
        except ValidationError as exc:
            bad = pydantic_errors(exc, at, fields, doc.positions)
    errors.extend(_env(e, env) for e in bad)
    return None


def _env(error: Diagnostic, env: str) -> Diagnostic:
    return Diagnostic(**{**error.__dict__, "env": env})
