"""Grafana dashboards built with grafanalib: `<env>/grafana/dashboards/<uid>.json`, a
provisioning file, and ConfigMaps for the Grafana dashboard sidecar.

The alerts overview has one panel per alert plotting exactly what its rule compares,
with the rule's threshold as the panel's threshold steps; its `dashboard_url`
annotation points at that panel. Domain dashboards come from `settings.dashboards.boards`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from grafanalib import core as g

from rulesgen import conventions
from rulesgen.emit import Files
from rulesgen.emit.prometheus import header
from rulesgen.emit.yamlout import BlockText, dump
from rulesgen.ir import CompiledAlert, EnvIR, ProgramIR
from rulesgen.spec.models import BoardSpec, DashboardSettings

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
UNITS = {"count": "short", "ratio": "percentunit", "factor": "percentunit", "seconds": "s", "bytes": "bytes"}
PANEL_HEIGHT = 8
SCHEMA_VERSION = 39


def threshold_steps(compiled: CompiledAlert) -> list[dict[str, Any]]:
    """Grafana threshold steps equal to the alert's: healthy below (or above) the line."""
    values = sorted({t.value for t in compiled.thresholds})
    if compiled.thresholds[0].op == "<":
        return [{"color": "red", "value": None}, *({"color": "green", "value": v} for v in values)]
    colors = ["orange"] * (len(values) - 1) + ["red"]
    return [{"color": "green", "value": None}, *({"color": c, "value": v} for c, v in zip(colors, values, strict=True))]


def legend(compiled: CompiledAlert) -> str:
    return " ".join(f"{label}={{{{{label}}}}}" for label in compiled.spec.grouping()) or compiled.name


def _layout(panels: list[Any], widths: list[int]) -> None:
    """Left to right, top to bottom, on Grafana's 24-column grid."""
    x = y = 0
    for panel, width in zip(panels, widths, strict=True):
        if x + width > 24:
            x, y = 0, y + PANEL_HEIGHT
        panel.gridPos = g.GridPos(h=PANEL_HEIGHT, w=width, x=x, y=y)
        x += width


def _variables(env: str, extra: list[g.Template]) -> g.Templating:
    return g.Templating(
        [
            g.Template(
                name="datasource", query="prometheus", type="datasource", label="Data source", default="Prometheus"
            ),
            g.Template(name="env", query=env, type="constant", label="Environment", default=env, hide=2),
            *extra,
        ]
    )


def _links(settings: DashboardSettings) -> list[g.DashboardLink]:
    if settings.platform_base_url is None:
        return []
    base = settings.platform_base_url.rstrip("/")
    return [
        g.DashboardLink(
            title=path, uri=f"{base}{path}", type="link", targetBlank=True, asDropdown=False, icon="external link"
        )
        for path in settings.links
    ]


def alerts_overview(env: EnvIR, settings: DashboardSettings) -> g.Dashboard:
    panels = []
    for compiled in sorted(env.alerts, key=lambda a: (a.team, a.name)):
        override = settings.panel_overrides.get(compiled.name)
        exprs = list(dict.fromkeys(t.value_expr for t in compiled.thresholds))
        targets = [
            g.Target(
                expr=expr, legendFormat=legend(compiled) + (f" ({i + 1})" if len(exprs) > 1 else ""), refId=chr(65 + i)
            )
            for i, expr in enumerate(exprs)
        ]
        panels.append(
            g.TimeSeries(
                title=(override.title if override and override.title else compiled.name),
                description=(override.description if override and override.description else compiled.rules[0].alert)
                + f" ({compiled.severity}, team {compiled.team})",
                dataSource=DATASOURCE,
                targets=targets,
                id=conventions.alert_panel_id(compiled.name),
                unit=UNITS[compiled.thresholds[0].unit],
                thresholdsStyleMode="line",
                thresholdType="absolute",
                extraJson={
                    "fieldConfig": {
                        "defaults": {"thresholds": {"mode": "absolute", "steps": threshold_steps(compiled)}}
                    }
                },
            )
        )
    _layout(panels, [12] * len(panels))
    return g.Dashboard(
        title=f"{conventions.ALERTS_DASHBOARD} ({env.env})",
        uid=conventions.dashboard_uid(conventions.ALERTS_DASHBOARD, env.env),
        tags=["rulesgen", "alerts", env.env],
        panels=panels,
        templating=_variables(env.env, []),
        links=_links(settings),
        timezone="utc",
        schemaVersion=SCHEMA_VERSION,
    )


def board(env: str, spec: BoardSpec, settings: DashboardSettings, first_id: int) -> g.Dashboard:
    variables = [
        g.Template(
            name=v.label,
            query=f"label_values({v.metric}, {v.label})",
            dataSource=DATASOURCE,
            type="query",
            includeAll=True,
            multi=True,
            allValue=".*",
            refresh=2,
            default="$__all",
            sort=1,
        )
        for v in spec.variables
    ]
    panels: list[Any] = []
    for i, p in enumerate(spec.panels):
        cls = g.Stat if p.type == "stat" else g.TimeSeries
        kwargs: dict[str, Any] = {
            "title": p.title,
            "dataSource": DATASOURCE,
            "targets": [
                g.Target(expr=q.expr, legendFormat=q.legend, refId=chr(ord("A") + j))
                for j, q in enumerate(p.all_queries())
            ],
            "id": first_id + i,
        }
        if cls is g.Stat:
            kwargs["format"] = p.unit
            kwargs["reduceCalc"] = "lastNotNull"
        else:
            kwargs["unit"] = p.unit
        panels.append(cls(**kwargs))
    _layout(panels, [p.width for p in spec.panels])
    return g.Dashboard(
        title=f"{spec.title} ({env})",
        uid=conventions.dashboard_uid(spec.title, env),
        tags=["rulesgen", *spec.tags, env],
        panels=panels,
        templating=_variables(env, variables),
        links=_links(settings),
        timezone="utc",
        schemaVersion=SCHEMA_VERSION,
    )


# Keys grafanalib still writes that the current dashboard model (schemaVersion 39+)
# does not have: Grafana migrates them away when it loads a dashboard, but a
# provisioned file keeps them and a schema check of the file rejects them.
_LEGACY_KEYS = {
    "dashboard": frozenset({"__inputs", "hideControls", "rows", "sharedCrosshair", "style"}),
    "panel": frozenset({"editable", "error", "height", "minSpan", "span"}),
    # intervalFactor 2 halves the query resolution; current Grafana leaves it unset.
    "target": frozenset({"intervalFactor", "metric", "query", "step", "target"}),
    "variable": frozenset({"tagValuesQuery", "tagsQuery", "useTags"}),
    "timepicker": frozenset({"time_options"}),
    "option": frozenset({"tags"}),
}
# A panel without alert thresholds still needs the base step Grafana draws values in.
BASE_STEPS: list[dict[str, Any]] = [{"color": "green", "value": None}]
# Stat options Grafana 11 always saves; grafanalib leaves them out.
STAT_OPTIONS = {"percentChangeColorMode": "standard", "showPercentChange": False, "wideLayout": True}


def plain(data: Any) -> Any:
    """grafanalib objects as plain JSON data (what its DashboardEncoder does), without
    its unset (None) values, and with threshold steps normalized: grafanalib emits
    legacy keys, a `"null"` string, or `""` for no steps; current Grafana wants a list
    of `{"color", "value"}` whose base step has a real null value."""
    to_json = getattr(data, "to_json_data", None)
    if to_json is not None:
        return plain(to_json())
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if key == "steps" and isinstance(value, (list, str)):
                out[key] = _steps(value)
            elif value is not None:
                out[key] = plain(value)
        return out
    if isinstance(data, (list, tuple)):
        return [plain(v) for v in data]
    return data


def _steps(steps: list[Any] | str) -> list[dict[str, Any]]:
    if not steps:
        return [dict(step) for step in BASE_STEPS]
    return [
        {"color": s["color"], "value": None if s.get("value") in (None, "null") else s["value"]}
        for s in (plain(step) for step in steps)
    ]


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _drop(data: dict[str, Any], kind: str) -> dict[str, Any]:
    legacy = _LEGACY_KEYS[kind]
    return {k: v for k, v in data.items() if k not in legacy}


def _panel_json(panel: dict[str, Any]) -> dict[str, Any]:
    """One panel in the current model: extraJson merged, legacy keys gone, and the
    options Grafana requires of its plugin type present."""
    extra = panel.pop("extraJson", None)
    if extra:
        panel = _merge(panel, extra)
    panel = _drop(panel, "panel")
    panel["targets"] = [_drop(t, "target") for t in panel.get("targets", [])]
    options = panel.setdefault("options", {})
    if panel["type"] == "stat":
        for key, value in STAT_OPTIONS.items():
            options.setdefault(key, value)
    if "legend" in options:
        options["legend"] = {"showLegend": True, **options["legend"]}
    return panel


def dashboard_json(dashboard: g.Dashboard) -> dict[str, Any]:
    """The dashboard as current Grafana JSON: what the Grafana dashboard schema accepts,
    with no legacy keys and no nulls except the base threshold step's value."""
    data: dict[str, Any] = _drop(plain(dashboard), "dashboard")
    panels = data.get("panels", [])
    for i, panel in enumerate(panels):
        # In place: a dashboard of thousands of panels need not exist twice.
        panels[i] = _panel_json(panel)
    templating = data.get("templating", {})
    if "list" in templating:
        templating["list"] = [_variable_json(v) for v in templating["list"]]
    if "timepicker" in data:
        data["timepicker"] = _drop(data["timepicker"], "timepicker")
    return data


def _variable_json(variable: dict[str, Any]) -> dict[str, Any]:
    variable = _drop(variable, "variable")
    if "current" in variable:
        variable["current"] = _drop(variable["current"], "option")
    variable["options"] = [_drop(o, "option") for o in variable.get("options", [])]
    return variable


def render(data: Any) -> bytes:
    """Sorted JSON indented two spaces all the way down (exactly `json.dumps(data,
    indent=2, sort_keys=True)`), so a changed threshold, query or title is a one-line
    diff."""
    return (_render(data, 0) + "\n").encode()


def _render(data: Any, level: int) -> str:
    # The indenting encoder collects every token of its output in one list before
    # joining it; encoding the top two levels piecewise bounds that list to one panel.
    pad = "  " * level
    if level < 2 and isinstance(data, dict) and data:
        items = (
            f"{pad}  {json.dumps(k, ensure_ascii=False)}: {_render(v, level + 1)}" for k, v in sorted(data.items())
        )
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if level < 2 and isinstance(data, list) and data:
        return "[\n" + ",\n".join(f"{pad}  {_render(v, level + 1)}" for v in data) + f"\n{pad}]"
    # JSON strings hold no raw newline, so every newline here starts an indented line.
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False).replace("\n", "\n" + pad)


def dashboards(env: EnvIR, settings: DashboardSettings) -> list[g.Dashboard]:
    out = [alerts_overview(env, settings)]
    for n, spec in enumerate(settings.boards):
        out.append(board(env.env, spec, settings, first_id=(n + 1) * 100 + 1))
    return out


def emit(program: ProgramIR) -> Files:
    settings = program.dashboards or DashboardSettings()
    files: Files = {}
    for env in program.envs:
        base = f"{env.env}/grafana"
        folder = f"rulesgen ({env.env})"
        for dashboard in dashboards(env, settings):
            data = dashboard_json(dashboard)
            text = render(data)
            files[f"{base}/dashboards/{dashboard.uid}.json"] = text
            name = re.sub(r"[^a-z0-9-]", "-", f"{dashboard.uid}")[:63].strip("-")
            files[f"{base}/configmaps/{dashboard.uid}.yaml"] = dump(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": name,
                        "labels": {"grafana_dashboard": "1", "app.kubernetes.io/managed-by": "rulesgen"},
                        "annotations": {"grafana_folder": folder},
                    },
                    "data": {f"{dashboard.uid}.json": BlockText(text.decode())},
                },
                header(program.source, f"{env.env} dashboard {dashboard.title} for the Grafana sidecar"),
            )
        files[f"{base}/provisioning/dashboards.yaml"] = dump(
            {
                "apiVersion": 1,
                "providers": [
                    {
                        "name": f"rulesgen-{env.env}",
                        "folder": folder,
                        "type": "file",
                        "disableDeletion": True,
                        "allowUiUpdates": False,
                        "options": {"path": f"/var/lib/grafana/dashboards/rulesgen/{env.env}"},
                    }
                ],
            },
            header(program.source, f"{env.env} Grafana dashboard provisioning"),
        )
    return files
