"""Dashboards: one panel per alert with the alert's own threshold, valid queries, a
clean layout, and a threshold change that moves rule, tests and panel together."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from conftest import OUTPUT, SPEC, minimal_text, require
from rulesgen import conventions
from rulesgen.emit.yamlout import dump
from rulesgen.errors import SpecErrors
from rulesgen.ir import Absent, Compare
from rulesgen.lower.dashboards import plotted
from rulesgen.pipeline import build_text, compile_spec
from rulesgen.promql import panel_query
from rulesgen.spec.validate import load_spec
from rulesgen.verify import check_rules

PROGRAM = compile_spec(load_spec(SPEC), tests=False)


def dashboards(env: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((OUTPUT / env / "grafana" / "dashboards").glob("*.json"))]


def panels(env: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(d, p) for d in dashboards(env) for p in d["panels"]]


def threshold_values(panel: dict[str, Any]) -> list[float]:
    steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
    return [s["value"] for s in steps if s["value"] is not None]


@pytest.mark.parametrize("env", [e.env for e in PROGRAM.envs])
def test_every_alert_has_exactly_one_panel_with_its_threshold(env: str) -> None:
    env_ir = PROGRAM.env(env)
    with_thresholds = [p for _, p in panels(env) if threshold_values(p)]
    assert len(with_thresholds) == len(env_ir.alerts)
    for compiled in env_ir.alerts:
        mine = [p for p in with_thresholds if p["id"] == conventions.alert_panel_id(compiled.name)]
        assert len(mine) == 1, compiled.name
        panel = mine[0]
        shown = plotted(compiled)
        base = panel["fieldConfig"]["defaults"]["thresholds"]["steps"][0]
        exprs = {t["expr"] for t in panel["targets"]}
        if isinstance(shown[0], Absent):  # plots how many series exist; red below one
            assert threshold_values(panel) == [1] and base == {"color": "red", "value": None}
            assert exprs == {f"count({shown[0].selector}) or vector(0)"}
            continue
        compares = [leaf for leaf in shown if isinstance(leaf, Compare)]
        assert threshold_values(panel) == sorted({c.value for c in compares}), compiled.name
        assert base == {"color": "green" if compares[0].op == ">" else "red", "value": None}
        assert exprs == {c.quantity.expr for c in compares}
        assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "line"}


@pytest.mark.parametrize("env", [e.env for e in PROGRAM.envs])
def test_dashboard_url_points_at_the_alert_panel(env: str) -> None:
    by_uid = {d["uid"]: d for d in dashboards(env)}
    for compiled in PROGRAM.env(env).alerts:
        url = dict(compiled.rules[0].annotations)["dashboard_url"]
        uid = url.split("/d/", 1)[1].split("/", 1)[0]
        panel_id = int(url.rsplit("viewPanel=", 1)[1])
        assert any(p["id"] == panel_id and p["title"] for p in by_uid[uid]["panels"]), compiled.name


def test_current_grafana_json_model() -> None:
    for env in ("prod", "staging"):
        for _, panel in panels(env):
            assert panel["type"] in ("timeseries", "stat"), panel["type"]
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            for step in panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", []):
                assert set(step) == {"color", "value"}
        names = [t["name"] for d in dashboards(env) for t in d["templating"]["list"]]
        assert {"datasource", "env", "network"} <= set(names)
        for dashboard in dashboards(env):
            assert dashboard["uid"] and len(dashboard["uid"]) <= 40
            assert {link["url"] for link in dashboard["links"]} == {
                "https://platform.example.com/v1/admin/telemetry/prometheus",
                "https://platform.example.com/v1/billing/overview/",
            }


def test_panel_ids_unique_and_grid_does_not_overlap() -> None:
    for env in ("prod", "staging"):
        for dashboard in dashboards(env):
            ids = [p["id"] for p in dashboard["panels"]]
            assert len(ids) == len(set(ids)), dashboard["title"]
            cells: set[tuple[int, int]] = set()
            for panel in dashboard["panels"]:
                g = panel["gridPos"]
                assert g["x"] + g["w"] <= 24
                mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
                assert not cells & mine, (dashboard["title"], panel["title"])
                cells |= mine


def test_every_panel_query_parses_and_promtool_accepts_it(tmp_path: Path) -> None:
    require("promtool")
    queries = sorted({t["expr"] for env in ("prod", "staging") for _, p in panels(env) for t in p["targets"]})
    assert len(queries) > 15
    for query in queries:
        promql_parser.parse(panel_query(query))
    rules = {
        "groups": [
            {
                "name": "panel-queries",
                "rules": [
                    {"record": f"rulesgen:panel_query:{i}", "expr": panel_query(q)} for i, q in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "panels.yml"
    path.write_bytes(dump(rules))
    result = check_rules([path])
    assert result.ok, result.output


def test_provisioning_and_sidecar_configmaps() -> None:
    for env in ("prod", "staging"):
        grafana = OUTPUT / env / "grafana"
        provisioning = yaml.safe_load((grafana / "provisioning" / "dashboards.yaml").read_text())
        assert provisioning["apiVersion"] == 1 and provisioning["providers"][0]["type"] == "file"
        for path in (grafana / "dashboards").glob("*.json"):
            cm = yaml.safe_load((grafana / "configmaps" / f"{path.stem}.yaml").read_text())
            assert cm["kind"] == "ConfigMap" and cm["metadata"]["labels"]["grafana_dashboard"] == "1"
            assert cm["data"] == {path.name: path.read_text()}


def test_one_threshold_change_moves_rule_tests_and_panel_together() -> None:
    text = SPEC.read_text()
    anchor = "billing.contracts worker.\n    threshold: 20\n"
    assert anchor in text
    before = build_text(text, "thresholds.yaml")
    after = build_text(text.replace(anchor, anchor.replace("20", "30")), "thresholds.yaml")
    changed = {path for path in before if before[path] != after[path]}
    assert "prod/prometheus/billing.rules.yml" in changed
    assert "prod/tests/BillingPendingBacklog.promtool-test.yaml" in changed
    overview = next(p for p in changed if p.startswith("prod/grafana/dashboards/") and "alerts-overview" in p)
    assert '"value": 30.0' in after[overview].decode() and '"value": 30.0' not in before[overview].decode()
    # staging overrides this threshold, so staging does not move
    assert not any(p.startswith("staging/") for p in changed)
    # the rule moves in every deploy format of it too, and nowhere else
    deploy = {"kubernetes", "vmalert", "mimir", "thanos"}
    assert {p.split("/")[1] for p in changed} == {"prometheus", "tests", "grafana", *deploy}


BAD_DASHBOARDS = [
    (
        '  grafana_base_url: "https://grafana.example.com"',
        '  grafana_base_url: "grafana.example.com"',
        "spec.yaml:4:21: settings.grafana_base_url: 'grafana.example.com' is not an http(s) URL",
    ),
    (
        '  grafana_base_url: "https://grafana.example.com"',
        '  grafana_base_url: "https://grafana.example.com"\n  dashboards:\n    platform_base_url: "ftp://x"',
        "spec.yaml:6:24: settings.dashboards.platform_base_url: 'ftp://x' is not an http(s) URL",
    ),
    (
        '  grafana_base_url: "https://grafana.example.com"',
        '  grafana_base_url: "https://grafana.example.com"\n  dashboards:\n    panel_overrides:\n      TxFail: {title: "x"}',
        "spec.yaml:7:7: settings.dashboards.panel_overrides.TxFail: unknown alert 'TxFail'; did you mean 'TxFailing'?",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), BAD_DASHBOARDS)
def test_bad_dashboard_settings(old: str, new: str, expected: str) -> None:
    with pytest.raises(SpecErrors) as err:
        build_text(minimal_text().replace(old, new, 1), "spec.yaml", tests=False)
    assert [str(e) for e in err.value.errors] == [expected]
