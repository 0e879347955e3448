"""Dashboards: one panel per alert with the alert's own threshold, valid queries, a
clean layout, and a threshold change that moves rule, tests and panel together."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from conftest import OUTPUT, SPEC, minimal_text, require
from rulesgen import conventions
from rulesgen.errors import SpecErrors
from rulesgen.ir import Absent, Compare
from rulesgen.lower.dashboards import plotted
from rulesgen.pipeline import build_text, compile_spec
from rulesgen.promql import by_clause, panel_query
from rulesgen.spec.validate import load_spec
from rulesgen.targets.yamlout import BlockText, dump
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
            # Per scope where the alert fires per scope (an absence guard per network).
            assert exprs == {f"count{by_clause(shown[0].per)}({shown[0].selector}) or vector(0)"}
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
    # staging overrides this threshold, so staging does not move (but for the spec's hash
    # that expectations.json carries for `rulesgen verify`)
    assert {p for p in changed if p.startswith("staging/")} == {"staging/expectations.json"}
    # the rule moves in every deploy format of it too, and nowhere else
    deploy = {"kubernetes", "vmalert", "mimir", "thanos"}
    got = {p.split("/")[1] for p in changed if p.startswith("prod/")}
    assert got == {"prometheus", "tests", "grafana", "expectations.json", *deploy}
    assert {p for p in changed if not p.startswith(("prod/", "staging/"))} == {"docs/alerts.md"}  # the catalog


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


def test_every_panel_has_a_threshold_step_list() -> None:
    # grafanalib writes `"steps": ""` for a stat panel; Grafana needs a list with a base step.
    for env in ("prod", "staging"):
        for _, panel in panels(env):
            steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
            assert isinstance(steps, list) and steps, panel["title"]
            assert steps[0]["value"] is None, panel["title"]
            assert all(isinstance(s["value"], (int, float)) for s in steps[1:]), panel["title"]


def _no_nulls_but_base_steps(data: Any, path: str = "$") -> list[str]:
    if isinstance(data, dict):
        found = []
        for key, value in data.items():
            if value is None and not (key == "value" and ".steps[0]" in path):
                found.append(f"{path}.{key}")
            found += _no_nulls_but_base_steps(value, f"{path}.{key}")
        return found
    if isinstance(data, list):
        return [n for i, v in enumerate(data) for n in _no_nulls_but_base_steps(v, f"{path}[{i}]")]
    return []


def test_no_nulls_and_no_legacy_keys() -> None:
    legacy = {"rows", "style", "hideControls", "sharedCrosshair", "span", "minSpan", "step", "intervalFactor"}
    for env in ("prod", "staging"):
        for dashboard in dashboards(env):
            assert _no_nulls_but_base_steps(dashboard) == [], dashboard["title"]
            assert not legacy & set(dashboard), dashboard["title"]
            for panel in dashboard["panels"]:
                assert not legacy & set(panel), panel["title"]
                for target in panel["targets"]:
                    assert not legacy & set(target), panel["title"]


def _built(text: str, path_part: str) -> dict[str, str]:
    files = build_text(text, "thresholds.yaml", tests=False)
    return {path: data.decode() for path, data in files.items() if path_part in path}


def test_a_threshold_change_is_a_one_line_diff_in_dashboard_and_configmap() -> None:
    text = SPEC.read_text()
    anchor = "billing.contracts worker.\n    threshold: 20\n"
    assert anchor in text
    before = _built(text, "prod/grafana/")
    after = _built(text.replace(anchor, anchor.replace("20", "30")), "prod/grafana/")
    changed = sorted(path for path in before if before[path] != after[path])
    assert [p.split("/")[2] for p in changed] == ["configmaps", "dashboards"]
    for path in changed:
        diff = [
            line
            for line in difflib.unified_diff(before[path].splitlines(), after[path].splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        assert [line[0] + line[1:].strip() for line in diff] == ['-"value": 20.0', '+"value": 30.0'], path


def test_configmap_holds_the_dashboard_as_a_block_of_sorted_pretty_json() -> None:
    for env in ("prod", "staging"):
        grafana = OUTPUT / env / "grafana"
        for path in (grafana / "dashboards").glob("*.json"):
            text = path.read_text()
            data = json.loads(text)
            assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            cm_text = (grafana / "configmaps" / f"{path.stem}.yaml").read_text()
            assert f'  "{path.name}": |\n    {{\n      "annotations": {{\n' in cm_text
            assert max(len(line) for line in cm_text.splitlines()) < 400


def test_yaml_strings_stay_quoted_unless_marked_as_block_text() -> None:
    text = dump({"a": "No", "b": "two\nlines\n", "c": BlockText("two\nlines\n"), "d": ["x"]}).decode()
    assert text == 'a: "No"\nb: "two\\nlines\\n"\nc: |\n  two\n  lines\nd:\n- "x"\n'


@pytest.mark.parametrize(
    ("value", "header"),
    [("a\nb\n", "|"), ("a\nb", "|-"), ("  indented\nb\n", "|2"), ("\nleading blank\n", "|2"), ("a\n\n\nb", "|-")],
)
def test_block_text_headers(value: str, header: str) -> None:
    text = dump({"data": {"k": BlockText(value)}}).decode()
    assert text.startswith(f"data:\n  k: {header}\n")
    assert yaml.safe_load(text) == {"data": {"k": value}}
    assert not any(line.endswith(" ") for line in text.splitlines())


@pytest.mark.parametrize("value", ["", "\n", "a\n\n", "cr\r\nlf", "nel\x85", "del\x7f\nx", "bom\ufeff\n"])
def test_block_text_a_block_cannot_carry_is_quoted(value: str) -> None:
    text = dump({"k": BlockText(value)}).decode()
    assert text.startswith('k: "')
    assert yaml.safe_load(text) == {"k": value}


YAML_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]) | st.sampled_from(" \t\n{}[]:#-|>\"'&*!%@`"), max_size=60
)


@given(value=YAML_TEXT, nested=st.booleans())
def test_block_and_quoted_text_read_back_exactly(value: str, nested: bool) -> None:
    doc: dict[str, Any] = {"block": BlockText(value), "quoted": value, "after": ["x", 1]}
    data = {"data": doc} if nested else doc
    assert yaml.safe_load(dump(data)) == data


def _board_text(panel: str) -> str:
    anchor = '  grafana_base_url: "https://grafana.example.com"\n'
    board = f'  dashboards:\n    boards:\n      - title: "B"\n        panels:\n          - {panel}\n'
    return minimal_text().replace(anchor, anchor + board, 1)


def test_a_panel_with_several_queries_has_one_target_each() -> None:
    panel = (
        '{title: "x", queries: [{expr: "sum(tx_total)", legend: "all"},'
        ' {expr: "sum(tx_total{status=\\"failed\\"})", legend: "failed"}, {expr: "sum(pending)"}]}'
    )
    files = build_text(_board_text(panel), "spec.yaml", tests=False)
    board = next(json.loads(data) for path, data in files.items() if "/dashboards/" in path and "-b-" in path)
    assert [(t["refId"], t["expr"], t["legendFormat"]) for t in board["panels"][0]["targets"]] == [
        ("A", "sum(tx_total)", "all"),
        ("B", 'sum(tx_total{status="failed"})', "failed"),
        ("C", "sum(pending)", ""),
    ]


def test_the_redis_panel_draws_used_and_limit_as_separate_series() -> None:
    for env in ("prod", "staging"):
        panel = next(p for _, p in panels(env) if p["title"] == "Redis memory used and limit")
        targets = {t["refId"]: t for t in panel["targets"]}
        assert sorted(targets) == ["A", "B"]
        assert "redis_memory_used_bytes" in targets["A"]["expr"] and "max" not in targets["A"]["expr"]
        assert "redis_memory_max_bytes" in targets["B"]["expr"] and "used" not in targets["B"]["expr"]
        assert [t["legendFormat"].split()[0] for t in panel["targets"]] == ["used", "limit"]
        assert not any(" or " in t["expr"] for t in panel["targets"])


BAD_PANELS = [
    (
        '{title: "x", expr: "sum(tx_total)", queries: [{expr: "sum(tx_total)"}]}',
        "spec.yaml:9:13: settings.dashboards.boards[0].panels[0]: a panel takes either expr (with legend) or queries, not both: move expr and legend into queries",
    ),
    (
        '{title: "x", legend: "a", queries: [{expr: "sum(tx_total)"}]}',
        "spec.yaml:9:13: settings.dashboards.boards[0].panels[0]: a panel takes either expr (with legend) or queries, not both: move expr and legend into queries",
    ),
    (
        '{title: "x"}',
        "spec.yaml:9:13: settings.dashboards.boards[0].panels[0]: a panel needs expr (one query) or queries (a list of {expr, legend})",
    ),
    (
        '{title: "x", queries: []}',
        "spec.yaml:9:35: settings.dashboards.boards[0].panels[0].queries: List should have at least 1 item after validation, not 0",
    ),
    (
        '{title: "x", queries: [{expr: "sum(tx_total)"}, {expr: "sum(nope_total)", legend: "b"}]}',
        "spec.yaml:9:68: settings.dashboards.boards[0].panels[0].queries[1].expr: unknown metric 'nope_total': declare it under metrics",
    ),
    (
        '{title: "x", queries: [{expr: "sum(tx_total)"}, {expr: "sum(", legend: "b"}]}',
        "spec.yaml:9:68: settings.dashboards.boards[0].panels[0].queries[1].expr: PromQL does not parse: unclosed left parenthesis",
    ),
    (
        '{title: "x", expr: "sum(nope_total)"}',
        "spec.yaml:9:32: settings.dashboards.boards[0].panels[0].expr: unknown metric 'nope_total': declare it under metrics",
    ),
]


@pytest.mark.parametrize(("panel", "expected"), BAD_PANELS)
def test_bad_board_panels(panel: str, expected: str) -> None:
    with pytest.raises(SpecErrors) as err:
        build_text(_board_text(panel), "spec.yaml", tests=False)
    assert [str(e) for e in err.value.errors] == [expected]
