"""Dashboards as data: the alerts overview (one panel per alert, plotting exactly what
its rule compares, with its thresholds) and the domain boards of the spec."""

from __future__ import annotations

from collections.abc import Sequence

from rulesgen import conventions
from rulesgen.ir import Absent, Alert, Compare, Dashboard, Link, Panel, PanelQuery, ThresholdStep, Variable, leaves
from rulesgen.promql import by_clause
from rulesgen.spec.models import BoardSpec, DashboardSettings

UNITS = {"count": "short", "ratio": "percentunit", "factor": "percentunit", "seconds": "s", "bytes": "bytes"}


def plotted(alert: Alert) -> list[Compare | Absent]:
    """What the alert's panel plots: the first comparison (or absence) of each rule."""
    return [next(iter(leaves(rule.condition))) for rule in alert.rules]


def threshold_steps(alert: Alert) -> tuple[ThresholdStep, ...]:
    """Grafana threshold steps equal to the alert's: healthy below (or above) the line."""
    shown = plotted(alert)
    if any(isinstance(leaf, Absent) for leaf in shown):
        return (ThresholdStep("red", None), ThresholdStep("green", 1))
    compares = [leaf for leaf in shown if isinstance(leaf, Compare)]
    values = sorted({c.value for c in compares})
    if compares[0].op in ("<", "<="):
        return (ThresholdStep("red", None), *(ThresholdStep("green", v) for v in values))
    colors = ["orange"] * (len(values) - 1) + ["red"]
    return (ThresholdStep("green", None), *(ThresholdStep(c, v) for c, v in zip(colors, values, strict=True)))


def _queries(alert: Alert) -> tuple[tuple[PanelQuery, ...], str]:
    legend = " ".join(f"{label}={{{{{label}}}}}" for label in alert.grouping) or alert.name
    exprs: list[str] = []
    unit = "short"
    for leaf in plotted(alert):
        if isinstance(leaf, Absent):
            # Per scope (network) where the alert fires per scope: the line that ends is the one gone.
            exprs.append(f"count{by_clause(leaf.per)}({leaf.selector}) or vector(0)")
        else:
            exprs.append(leaf.quantity.expr)
            unit = UNITS[leaf.quantity.unit]
    exprs = list(dict.fromkeys(exprs))
    numbered = len(exprs) > 1
    return tuple(PanelQuery(e, legend + (f" ({i + 1})" if numbered else "")) for i, e in enumerate(exprs)), unit


def alerts_overview(env: str, alerts: Sequence[Alert], settings: DashboardSettings) -> Dashboard:
    panels = []
    for alert in sorted(alerts, key=lambda a: (a.team, a.name)):
        override = settings.panel_overrides.get(alert.name)
        queries, unit = _queries(alert)
        title = override.title if override and override.title else alert.name
        about = override.description if override and override.description else alert.name
        panels.append(
            Panel(
                id=conventions.alert_panel_id(alert.name),
                title=title,
                description=f"{about} ({alert.severity}, team {alert.team})",
                type="timeseries",
                unit=unit,
                width=12,
                queries=queries,
                thresholds=threshold_steps(alert),
            )
        )
    return Dashboard(
        uid=conventions.dashboard_uid(conventions.ALERTS_DASHBOARD, env),
        title=f"{conventions.ALERTS_DASHBOARD} ({env})",
        tags=("rulesgen", "alerts", env),
        panels=tuple(panels),
        links=links(settings),
    )


def board(env: str, spec: BoardSpec, settings: DashboardSettings, first_id: int) -> Dashboard:
    panels = tuple(
        Panel(
            id=first_id + i,
            title=p.title,
            description="",
            type=p.type,
            unit=p.unit,
            width=p.width,
            queries=tuple(PanelQuery(q.expr, q.legend) for q in p.all_queries()),
        )
        for i, p in enumerate(spec.panels)
    )
    return Dashboard(
        uid=conventions.dashboard_uid(spec.title, env),
        title=f"{spec.title} ({env})",
        tags=("rulesgen", *spec.tags, env),
        panels=panels,
        variables=tuple(Variable(v.label, v.label, v.metric) for v in spec.variables),
        links=links(settings),
    )


def links(settings: DashboardSettings) -> tuple[Link, ...]:
    if settings.platform_base_url is None:
        return ()
    base = settings.platform_base_url.rstrip("/")
    return tuple(Link(path, f"{base}{path}") for path in settings.links)


def dashboards(env: str, alerts: Sequence[Alert], settings: DashboardSettings) -> tuple[Dashboard, ...]:
    """Every dashboard of one environment; board panel ids start at 101, 201, ..."""
    boards = (board(env, spec, settings, first_id=(n + 1) * 100 + 1) for n, spec in enumerate(settings.boards))
    return (alerts_overview(env, alerts, settings), *boards)
