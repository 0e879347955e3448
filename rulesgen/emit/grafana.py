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
from rulesgen.emit.yamlout import dump
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
            "targets": [g.Target(expr=p.expr, legendFormat=p.legend, refId="A")],
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


def plain(data: Any) -> Any:
    """grafanalib objects as plain JSON data (what its DashboardEncoder does), with
    threshold steps normalized: grafanalib emits legacy keys and a `"null"` string,
    current Grafana wants `{"color", "value"}` with a real null for the base step."""
    to_json = getattr(data, "to_json_data", None)
    if to_json is not None:
        return plain(to_json())
    if isinstance(data, dict):
        if isinstance(data.get("steps"), list):
            data = {
                **data,
                "steps": [
                    {"color": s["color"], "value": None if s.get("value") in (None, "null") else s["value"]}
                    for s in data["steps"]
                ],
            }
        return {k: plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [plain(v) for v in data]
    return data


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def dashboard_json(dashboard: g.Dashboard) -> dict[str, Any]:
    data: dict[str, Any] = plain(dashboard)
    for panel in data.get("panels", []):
        extra = panel.pop("extraJson", None)
        if extra:
            panel.update(_merge(panel, extra))
    return data


def render(data: Any, depth: int = 3, level: int = 0) -> bytes:
    """Sorted JSON, indented down to `depth` and compact below it: a threshold change
    is one readable line in a diff, and a dashboard of thousands of panels renders with
    the C encoder instead of the slow pure-Python indenting one."""
    return (_render(data, depth, level) + "\n").encode()


def _render(data: Any, depth: int, level: int) -> str:
    pad = "  " * level
    if level < depth and isinstance(data, dict) and data:
        items = (f"{pad}  {json.dumps(k)}: {_render(v, depth, level + 1)}" for k, v in sorted(data.items()))
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if level < depth and isinstance(data, list) and data:
        return "[\n" + ",\n".join(f"{pad}  {_render(v, depth, level + 1)}" for v in data) + f"\n{pad}]"
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


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
                    "data": {f"{dashboard.uid}.json": text.decode()},
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
