"""Grafana dashboards built with grafanalib: `<env>/grafana/dashboards/<uid>.json`, a
provisioning file, and ConfigMaps for the Grafana dashboard sidecar.

The alerts overview has one panel per alert plotting exactly what its rule compares,
with the rule's threshold as the panel's threshold steps; its `dashboard_url`
annotation points at that panel. Domain dashboards come from `settings.dashboards.boards`.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from rulesgen.ir import Dashboard, Panel, ProgramIR
from rulesgen.targets.base import Files, Options, Target, Tests, header
from rulesgen.targets.yamlout import BlockText, dump

if TYPE_CHECKING:  # grafanalib is imported only when dashboards are built
    from grafanalib import core as g

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_HEIGHT = 8
SCHEMA_VERSION = 39


def _layout(panels: list[Any], widths: list[int]) -> None:
    """Left to right, top to bottom, on Grafana's 24-column grid."""
    from grafanalib import core as g

    x = y = 0
    for panel, width in zip(panels, widths, strict=True):
        if x + width > 24:
            x, y = 0, y + PANEL_HEIGHT
        panel.gridPos = g.GridPos(h=PANEL_HEIGHT, w=width, x=x, y=y)
        x += width


def _variables(env: str, dashboard: Dashboard) -> g.Templating:
    from grafanalib import core as g

    queries = [
        g.Template(
            name=v.name,
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
        for v in dashboard.variables
    ]
    return g.Templating(
        [
            g.Template(
                name="datasource", query="prometheus", type="datasource", label="Data source", default="Prometheus"
            ),
            g.Template(name="env", query=env, type="constant", label="Environment", default=env, hide=2),
            *queries,
        ]
    )


def _panel(panel: Panel) -> Any:
    from grafanalib import core as g

    targets = [g.Target(expr=q.expr, legendFormat=q.legend, refId=chr(65 + i)) for i, q in enumerate(panel.queries)]
    kwargs: dict[str, Any] = {"title": panel.title, "dataSource": DATASOURCE, "targets": targets, "id": panel.id}
    if panel.description:
        kwargs["description"] = panel.description
    if panel.type == "stat":
        return g.Stat(format=panel.unit, reduceCalc="lastNotNull", **kwargs)
    if panel.thresholds:
        steps = [{"color": s.color, "value": s.value} for s in panel.thresholds]
        kwargs["thresholdsStyleMode"] = "line"
        kwargs["thresholdType"] = "absolute"
        kwargs["extraJson"] = {"fieldConfig": {"defaults": {"thresholds": {"mode": "absolute", "steps": steps}}}}
    return g.TimeSeries(unit=panel.unit, **kwargs)


def build(env: str, dashboard: Dashboard) -> g.Dashboard:
    """The grafanalib dashboard of one dashboard IR."""
    from grafanalib import core as g

    panels = [_panel(p) for p in dashboard.panels]
    _layout(panels, [p.width for p in dashboard.panels])
    return g.Dashboard(
        title=dashboard.title,
        uid=dashboard.uid,
        tags=list(dashboard.tags),
        panels=panels,
        templating=_variables(env, dashboard),
        links=[
            g.DashboardLink(
                title=link.title, uri=link.url, type="link", targetBlank=True, asDropdown=False, icon="external link"
            )
            for link in dashboard.links
        ],
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


def emit(program: ProgramIR, tests: Tests, options: Options) -> Files:
    files: Files = {}
    for env in program.envs:
        base = f"{env.env}/grafana"
        folder = f"rulesgen ({env.env})"
        for ir_dashboard in env.dashboards:
            dashboard = build(env.env, ir_dashboard)
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


TARGET = Target("grafana", Options, emit, description="Grafana dashboards, provisioning and sidecar ConfigMaps")
