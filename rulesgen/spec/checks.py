"""Cross-reference checks that need the whole spec: names, teams, metrics, labels, label sets."""

from __future__ import annotations

from collections.abc import Sequence

from rulesgen.errors import SpecError
from rulesgen.kinds.base import AlertSpec
from rulesgen.spec.loader import Positions
from rulesgen.spec.models import SetRef, SpecHeader


def check_references(
    header: SpecHeader, alerts: Sequence[tuple[int, AlertSpec]], positions: Positions
) -> list[SpecError]:
    """Errors for every reference that does not resolve against the catalogs."""
    errors: list[SpecError] = []
    first_seen: dict[str, int] = {}
    for index, alert in alerts:
        at = ("alerts", index)
        if alert.name in first_seen:
            line, _ = positions.of(("alerts", first_seen[alert.name], "name"))
            errors.append(positions.error((*at, "name"), f"duplicate alert name {alert.name!r} (first at line {line})"))
        else:
            first_seen[alert.name] = index
        if alert.team not in header.teams:
            errors.append(
                positions.error((*at, "team"), f"unknown team {alert.team!r}; declared: {', '.join(header.teams)}")
            )
        for path, severity in alert.referenced_severities():
            if severity not in header.severities:
                errors.append(
                    positions.error(
                        (*at, *path),
                        f"unknown severity {severity!r}; declared: {', '.join(header.severities)}",
                    )
                )
        for use in alert.selectors():
            sel_at = (*at, *use.path)
            metric = header.metrics.get(use.selector.metric)
            if metric is None:
                errors.append(
                    positions.error(
                        (*sel_at, "metric"),
                        f"unknown metric {use.selector.metric!r}; declare it under metrics",
                    )
                )
                continue
            if metric.type not in use.types:
                wanted = " or ".join(sorted(t.value for t in use.types))
                errors.append(
                    positions.error(
                        (*sel_at, "metric"),
                        f"{alert.kind} needs a {wanted} but {use.selector.metric!r} is a {metric.type.value}",
                    )
                )
            for label, value in use.selector.matchers.items():
                if label not in metric.labels:
                    errors.append(
                        positions.error(
                            (*sel_at, "matchers", label),
                            f"metric {use.selector.metric!r} has no label {label!r}; it has: {', '.join(metric.labels) or 'none'}",
                            key=True,
                        )
                    )
                if isinstance(value, SetRef):
                    label_set = header.label_sets.get(value.set)
                    if label_set is None:
                        errors.append(
                            positions.error((*sel_at, "matchers", label, "set"), f"unknown label set {value.set!r}")
                        )
                    elif label_set.label != label:
                        errors.append(
                            positions.error(
                                (*sel_at, "matchers", label, "set"),
                                f"label set {value.set!r} holds values of {label_set.label!r}, not {label!r}",
                            )
                        )
            for i, label in enumerate(getattr(alert, "by", [])):
                if label not in metric.labels:
                    errors.append(
                        positions.error(
                            (*at, "by", i),
                            f"cannot group by {label!r}: metric {use.selector.metric!r} has no such label",
                        )
                    )
    return errors
