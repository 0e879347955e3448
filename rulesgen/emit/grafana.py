"""Grafana dashboards built with grafanalib: `<env>/grafana/dashboards/<uid>.json`, a
provisioning file, and ConfigMaps for the Grafana dashboard sidecar.

The alerts overview has one panel per alert plotting exactly what its rule compares,
with the rule's threshold as the panel's threshold steps; its `dashboard_url`
annotation points at that panel. Domain dashboards come from `settings.dashboards.boards`.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rulesgen.emit.base import Files, Options, Target, header
from rulesgen.emit.yamlout import dump
from rulesgen.ir import Dashboard, Panel, ProgramIR, TestSuite

if TYPE_CHECKING:
    from grafanalib import core as g

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_HEIGHT = 8
SCHEMA_VERSION = 39


def _positions(widths: list[int]) -> list[tuple[int, int]]:
    """(x, y) of each panel: left to right, top to bottom, on Grafana's 24-column grid."""
    out = []
    x = y = 0
    for width in widths:
        if x + width > 24:
            x, y = 0, y + PANEL_HEIGHT
        out.append((x, y))
        x += width
    return out


def _layout(panels: list[Any], widths: list[int]) -> None:
    from grafanalib import core as g

    for panel, width, (x, y) in zip(panels, widths, _positions(widths), strict=True):
        panel.gridPos = g.GridPos(h=PANEL_HEIGHT, w=width, x=x, y=y)


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
    # Imported where dashboards are built: commands that never build one (explain)
    # do not pay for grafanalib's import.
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
        _merge_extra(panel)
    return data


def _merge_extra(panel: dict[str, Any]) -> None:
    extra = panel.pop("extraJson", None)
    if extra:
        panel.update(_merge(panel, extra))


class _Rendered(str):
    """JSON text `_render` already produced for a value, spliced in as it is."""


# A dashboard renders as {dashboard keys: [panels: {panel keys: compact JSON}]}.
PANEL_LEVEL = 2


class PanelCache:
    """Each distinct panel at its place on the grid, built by grafanalib and rendered
    once: environments that differ only in some alerts' thresholds share the other
    panels of their overview, and a 5,000-alert overview has 5,000 of them."""

    def __init__(self) -> None:
        self.rendered: dict[tuple[Panel, int, int], _Rendered] = {}

    def panel(self, panel: Panel, x: int, y: int) -> _Rendered:
        key = (panel, x, y)
        text = self.rendered.get(key)
        if text is None:
            from grafanalib import core as g

            built = _panel(panel)
            built.gridPos = g.GridPos(h=PANEL_HEIGHT, w=panel.width, x=x, y=y)
            data: dict[str, Any] = plain(built)
            _merge_extra(data)
            text = self.rendered[key] = _Rendered(_render(data, DEPTH, PANEL_LEVEL))
        return text

    def render(self, env: str, dashboard: Dashboard) -> tuple[str, bytes]:
        """The dashboard's uid and its JSON, as `render(dashboard_json(build(...)))`."""
        shell = build(env, replace(dashboard, panels=()))
        data = dashboard_json(shell)
        places = _positions([p.width for p in dashboard.panels])
        data["panels"] = [self.panel(p, x, y) for p, (x, y) in zip(dashboard.panels, places, strict=True)]
        return shell.uid, render(data)


DEPTH = 3


def render(data: Any, depth: int = DEPTH, level: int = 0) -> bytes:
    """Sorted JSON, indented down to `depth` and compact below it: a threshold change
    is one readable line in a diff, and a dashboard of thousands of panels renders with
    the C encoder instead of the slow pure-Python indenting one."""
    return (_render(data, depth, level) + "\n").encode()


def _render(data: Any, depth: int, level: int) -> str:
    if isinstance(data, _Rendered):
        return data
    pad = "  " * level
    if level < depth and isinstance(data, dict) and data:
        items = (f"{pad}  {json.dumps(k)}: {_render(v, depth, level + 1)}" for k, v in sorted(data.items()))
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if level < depth and isinstance(data, list) and data:
        return "[\n" + ",\n".join(f"{pad}  {_render(v, depth, level + 1)}" for v in data) + f"\n{pad}]"
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def emit(program: ProgramIR, tests: TestSuite, options: Options) -> Files:
    files: Files = {}
    panels = PanelCache()
    for env in program.envs:
        base = f"{env.env}/grafana"
        folder = f"rulesgen ({env.env})"
        for ir_dashboard in env.dashboards:
            uid, text = panels.render(env.env, ir_dashboard)
            files[f"{base}/dashboards/{uid}.json"] = text
            name = re.sub(r"[^a-z0-9-]", "-", f"{uid}")[:63].strip("-")
            files[f"{base}/configmaps/{uid}.yaml"] = dump(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": name,
                        "labels": {"grafana_dashboard": "1", "app.kubernetes.io/managed-by": "rulesgen"},
                        "annotations": {"grafana_folder": folder},
                    },
                    "data": {f"{uid}.json": text.decode()},
                },
                header(program.source, f"{env.env} dashboard {ir_dashboard.title} for the Grafana sidecar"),
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
