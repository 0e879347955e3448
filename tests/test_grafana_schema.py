"""Every generated dashboard validates against the Grafana dashboard JSON schema of
grafana-foundation-sdk, the schema Grafana's own CUE kinds are generated from.

The SDK's Python package ships that schema as generated model classes rather than as a
JSON file (its npm package ships TypeScript only), so the JSON schema is derived from
the installed package here: each model class becomes a closed object
(`additionalProperties: false`, as in the SDK's published JSON schema), the keys its
`to_json` always writes are required, its enums and literals are enums, and a field is
nullable only where the SDK itself writes a null (the base threshold step). Panel
`options`, `fieldConfig.defaults.custom` and `targets` are checked against the SDK's
models for that panel type and for Prometheus queries, which the generic dashboard
schema leaves open.
"""

from __future__ import annotations

import copy
import enum
import importlib.metadata
import inspect
import json
import re
import tomllib
import types
import typing
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs among the dev dependencies
import pytest
from grafana_foundation_sdk.cog import variants as sdk_variants
from grafana_foundation_sdk.models import dashboard as sdk_dashboard
from grafana_foundation_sdk.models import prometheus as sdk_prometheus
from grafana_foundation_sdk.models import stat as sdk_stat
from grafana_foundation_sdk.models import timeseries as sdk_timeseries

from conftest import OUTPUT, ROOT, SPEC, minimal_text
from rulesgen.pipeline import compile_spec
from rulesgen.spec.validate import load_spec, parse_spec
from rulesgen.targets import grafana

# Panel plugin id -> the SDK models of its `options` and `fieldConfig.defaults.custom`
# (None: the plugin has no custom field config).
PANEL_MODELS: dict[str, tuple[type, type | None]] = {
    "timeseries": (sdk_timeseries.Options, sdk_timeseries.FieldConfig),
    "stat": (sdk_stat.Options, None),
}

_REQUIRED = re.compile(r'^\s*"(\w+)": self\.(\w+),$', re.MULTILINE)
_OPTIONAL = re.compile(r'^\s*payload\["(\w+)"\] = self\.(\w+)$', re.MULTILINE)


def pinned_sdk_version() -> str:
    """The exact grafana-foundation-sdk version pinned in pyproject's dev extras."""
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    pins = [d.split("==", 1)[1] for d in dev if d.startswith("grafana-foundation-sdk==")]
    assert len(pins) == 1, "pin grafana-foundation-sdk to one exact version (==) in the dev extras"
    return str(pins[0])


class _Deriver:
    """JSON schema definitions for the SDK's generated model classes."""

    def __init__(self) -> None:
        self.definitions: dict[str, dict[str, Any]] = {}

    def ref(self, cls: type) -> dict[str, Any]:
        name = f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__qualname__}"
        if name not in self.definitions:
            self.definitions[name] = {}  # placeholder: recursive models refer to themselves
            self.definitions[name] = self.model(cls)
        return {"$ref": f"#/definitions/{name}"}

    def model(self, cls: type) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        source = inspect.getsource(cls.to_json)  # type: ignore[attr-defined]
        required = dict(_REQUIRED.findall(source))
        optional = dict(_OPTIONAL.findall(source))
        assert required or optional, f"cannot read the JSON keys of {cls.__qualname__}"
        properties: dict[str, Any] = {}
        for key, attr in {**required, **optional}.items():
            hint, nullable = _strip_none(hints[attr])
            schema = self.type(hint)
            # The SDK writes None only for keys it always writes; elsewhere None means absent.
            properties[key] = {"anyOf": [schema, {"type": "null"}]} if nullable and key in required else schema
        return {
            "type": "object",
            "additionalProperties": False,
            "required": sorted(required),
            "properties": properties,
        }

    def type(self, hint: Any) -> dict[str, Any]:
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if hint is typing.Any or hint is object:
            return {}
        if hint is bool:
            return {"type": "boolean"}
        if hint is int:
            return {"type": "integer"}
        if hint is float:
            return {"type": "number"}
        if hint is str:
            return {"type": "string"}
        if origin is typing.Literal:
            return {"enum": list(args)}
        if origin in (typing.Union, types.UnionType):
            return {"anyOf": [self.type(a) for a in args]}
        if origin is list:
            return {"type": "array", "items": self.type(args[0])}
        if origin is dict:
            return {"type": "object", "additionalProperties": self.type(args[1])}
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return {"enum": [m.value for m in hint]}
        if hint is sdk_variants.Dataquery:
            # Every rulesgen panel queries the Prometheus data source.
            return self.ref(sdk_prometheus.Dataquery)
        if isinstance(hint, type) and hasattr(hint, "to_json"):
            return self.ref(hint)
        raise AssertionError(f"no JSON schema for SDK type {hint!r}")


def _strip_none(hint: Any) -> tuple[Any, bool]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = tuple(a for a in args if a is not type(None))
        return (rest[0] if len(rest) == 1 else typing.Union[rest]), True  # noqa: UP007 (a runtime tuple)
    return hint, False


@cache
def dashboard_schema() -> dict[str, Any]:
    """The dashboard JSON schema derived from the installed grafana-foundation-sdk, with
    each known panel type's options and custom field config closed as well."""
    deriver = _Deriver()
    root = deriver.ref(sdk_dashboard.Dashboard)
    # As the SDK decodes panels: a row by its type, anything else as a Panel, so an
    # error is reported against the one model the panel is, not against both.
    root_properties = deriver.definitions["dashboard.Dashboard"]["properties"]
    root_properties["panels"]["items"] = {
        "if": {"properties": {"type": {"const": "row"}}, "required": ["type"]},
        "then": deriver.ref(sdk_dashboard.RowPanel),
        "else": deriver.ref(sdk_dashboard.Panel),
    }
    panel = deriver.definitions["dashboard.Panel"]
    # A panel of an unknown plugin type has nothing to check its options against.
    panel["properties"]["type"] = {"enum": sorted(PANEL_MODELS)}
    panel["allOf"] = []
    for plugin, (options, custom) in PANEL_MODELS.items():
        then: dict[str, Any] = {"properties": {"options": deriver.ref(options)}}
        if custom is not None:
            then["properties"]["fieldConfig"] = {
                "properties": {"defaults": {"properties": {"custom": deriver.ref(custom)}}}
            }
        panel["allOf"].append({"if": {"properties": {"type": {"const": plugin}}}, "then": then})
    return {"$schema": "http://json-schema.org/draft-07/schema#", **root, "definitions": deriver.definitions}


def schema_errors(data: Any) -> list[str]:
    """Every place `data` breaks the dashboard schema, as `path: message`."""
    validator = jsonschema.Draft7Validator(dashboard_schema())
    return sorted(f"{e.json_path}: {e.message}" for e in _leaves(validator.iter_errors(data)))


def _leaves(errors: Iterator[jsonschema.ValidationError]) -> Iterator[jsonschema.ValidationError]:
    # anyOf/if-then failures hide the real mismatch in their context: report that.
    for error in errors:
        if error.context:
            yield from _leaves(iter(error.context))
        else:
            yield error


def generated_dashboards() -> list[Path]:
    return sorted(OUTPUT.glob("*/grafana/dashboards/*.json"))


def every_panel_type_spec() -> str:
    """The minimal spec with a board holding every panel type and both query forms."""
    board = """
  dashboards:
    boards:
      - title: "Every panel"
        tags: ["test"]
        variables:
          - {label: "network", metric: "tx_total"}
        panels:
          - {title: "a stat", expr: "sum(tx_total)", type: "stat", unit: "short", width: 6}
          - {title: "a series", expr: "sum by (network) (rate(tx_total[5m]))", legend: "{{network}}"}
          - title: "two series"
            type: "timeseries"
            queries:
              - {expr: "sum(rate(tx_total[5m]))", legend: "all"}
              - {expr: "sum(rate(tx_total{status=\\"failed\\"}[5m]))", legend: "failed"}
          - title: "two stats"
            type: "stat"
            queries:
              - {expr: "sum(tx_total)", legend: "all"}
              - {expr: "sum(tx_total{status=\\"failed\\"})", legend: "failed"}
"""
    anchor = '  grafana_base_url: "https://grafana.example.com"\n'
    text = minimal_text()
    assert anchor in text
    return text.replace(anchor, anchor + board, 1)


def built_dashboards(text: str) -> list[dict[str, Any]]:
    program = compile_spec(parse_spec(text, "spec.yaml"), tests=False)
    return [grafana.dashboard_json(grafana.build(env.env, d)) for env in program.envs for d in env.dashboards]


def test_the_pinned_sdk_is_the_one_installed() -> None:
    assert importlib.metadata.version("grafana-foundation-sdk") == pinned_sdk_version()


def test_the_schema_is_a_valid_draft7_schema() -> None:
    jsonschema.Draft7Validator.check_schema(dashboard_schema())
    panel = dashboard_schema()["definitions"]["dashboard.Panel"]
    assert panel["additionalProperties"] is False and "gridPos" in panel["properties"]


def test_the_generated_dashboards_exist() -> None:
    envs = {p.parts[-4] for p in generated_dashboards()}
    assert {e.env for e in compile_spec(load_spec(SPEC), tests=False).envs} <= envs
    assert len(generated_dashboards()) >= 8


@pytest.mark.parametrize("path", generated_dashboards(), ids=lambda p: f"{p.parts[-4]}/{p.stem}")
def test_every_generated_dashboard_validates(path: Path) -> None:
    assert schema_errors(json.loads(path.read_text())) == []


def test_the_shipped_spec_builds_dashboards_that_validate() -> None:
    # Independent of the committed output/, which is regenerated separately.
    program = compile_spec(load_spec(SPEC), tests=False)
    for env in program.envs:
        for dashboard in env.dashboards:
            data = json.loads(grafana.render(grafana.dashboard_json(grafana.build(env.env, dashboard))))
            assert schema_errors(data) == [], dashboard.title


def test_every_panel_type_and_query_form_validates() -> None:
    built = built_dashboards(every_panel_type_spec())
    boards = [d for d in built if d["title"].startswith("Every panel")]
    assert boards
    for data in built:
        assert schema_errors(data) == [], data["title"]
    types_seen = {p["type"] for d in boards for p in d["panels"]}
    assert types_seen == set(PANEL_MODELS)


def _stat_panel(data: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in data["panels"] if p["type"] == "stat")


BAD: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "grafanalib's default steps",
        lambda d: _stat_panel(d)["fieldConfig"]["defaults"]["thresholds"].update(steps=""),
        "$.panels[0].fieldConfig.defaults.thresholds.steps: '' is not of type 'array'",
    ),
    (
        "a step with a legacy key",
        lambda d: _stat_panel(d)["fieldConfig"]["defaults"]["thresholds"]["steps"][0].update(op="gt"),
        "$.panels[0].fieldConfig.defaults.thresholds.steps[0]: Additional properties are not allowed ('op' was unexpected)",
    ),
    (
        "a null where an object belongs",
        lambda d: _stat_panel(d)["fieldConfig"]["defaults"].update(color=None),
        "$.panels[0].fieldConfig.defaults.color: None is not of type 'object'",
    ),
    (
        "a legacy dashboard key",
        lambda d: d.update(rows=[]),
        "$: Additional properties are not allowed ('rows' was unexpected)",
    ),
    (
        "a legacy target key",
        lambda d: _stat_panel(d)["targets"][0].update(step=10),
        "$.panels[0].targets[0]: Additional properties are not allowed ('step' was unexpected)",
    ),
    (
        "a stat option of the wrong type",
        lambda d: _stat_panel(d)["options"].update(graphMode="sparkline"),
        "$.panels[0].options.graphMode: 'sparkline' is not one of ['none', 'line', 'area']",
    ),
    (
        "a missing required key",
        lambda d: d.pop("schemaVersion"),
        "$: 'schemaVersion' is a required property",
    ),
]


@pytest.mark.parametrize(("breakage", "expected"), [(b[1], b[2]) for b in BAD], ids=[b[0] for b in BAD])
def test_a_known_bad_dashboard_fails(breakage: Callable[[dict[str, Any]], None], expected: str) -> None:
    good = next(d for d in built_dashboards(every_panel_type_spec()) if d["title"].startswith("Every panel"))
    assert _stat_panel(good) is good["panels"][0]
    assert schema_errors(good) == []
    bad = copy.deepcopy(good)
    breakage(bad)
    assert expected in schema_errors(bad)
