"""The JSON Schema of thresholds.yaml and the per-kind field reference, both generated
from the pydantic models so that an editor, the docs and `rulesgen validate` agree.

`rulesgen schema` writes both files; `rulesgen check` fails when the committed copies
differ from what the models produce now (`schema_drift`).

What the schema can and cannot say
----------------------------------
The schema is a fast first line of feedback in an editor (yaml-language-server reads
the modeline on the first line of thresholds.yaml), not a replacement for
`rulesgen validate`. It checks shapes: types, required and unknown keys, enums, number
ranges, name and duration patterns, and the alert kind. It cannot check what needs the
rest of the document (an alert reading an undeclared metric, an unknown team) or
what a model validator computes (a ratio threshold that can never fire, burn-rate
tiers that exceed the budget).

Alerts are a `oneOf` over one schema per kind, each pinning `kind` with `const`, so
exactly one kind matches; pydantic's `discriminator` mapping is kept alongside for
tools that understand it.

Overrides (`environments.<env>.overrides.<AlertName>`) are keyed by alert names that
exist only in the document being validated, and JSON Schema cannot look a value up
elsewhere in the instance (draft 2020-12 has no `$data`). Generating the schema from
the shipped spec's alert names would type them exactly, but the schema would then go
stale whenever an alert is added, and every other spec would be judged by this one's
alerts. So each override object is instead `anyOf` the partial schema of every kind:
all of that kind's fields optional, `kind` and `name` absent (they cannot be
overridden), no defaults (an omitted field keeps the alert's value, not the model's
default), unknown keys rejected. A field no kind has (`treshold`) and a value no kind
accepts (`for: soon`) are therefore errors in the editor; a value only some kinds
accept (`threshold: 2` on a ratio alert) is caught by `rulesgen validate`, which types
the override against the overridden alert's own kind.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from rulesgen.kinds import alert_adapter, registry
from rulesgen.promql import DURATION_RE, Duration
from rulesgen.spec.models import SpecHeader

SCHEMA_PATH = "schema/thresholds.schema.json"
REFERENCE_PATH = "docs/reference/alert-kinds.md"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

Schema = dict[str, Any]


def _portable(pattern: str) -> str:
    """A Python regex as one that means the same in ECMA-262 (editors) and Python
    (the jsonschema package): named groups `(?P<x>...)` are Python-only syntax."""
    return re.sub(r"\(\?P<\w+>", "(", pattern)


DURATION_PATTERN = _portable(DURATION_RE.pattern)

# Patterns for validators that are plain functions rather than a closure over a regex
# (see `_constraints`), keyed by function name so a renamed validator degrades to a
# plain string in the schema (and the drift test shows it) instead of breaking imports.
_CONTROL_FREE = r"^[^\u0000-\u001f\u007f]*$"
_URL = r"^https?://[^\s/?#]+[^\s]*$"
_KNOWN_VALIDATORS: dict[str, Schema] = {
    "_no_control": {"title": "label value", "pattern": _CONTROL_FREE},
    "_url": {"title": "URL", "format": "uri", "pattern": _URL},
    "_webhook_url": {"title": "URL", "format": "uri", "pattern": _URL},
    "_absolute_path": {"title": "absolute file path", "pattern": r"^/[^\u0000-\u001f\u007f]*$"},
}

# Descriptions for alert fields whose models do not carry one yet. A model's own
# `Field(description=...)` always wins, so these fade out as the models grow them.
_ALERT_FIELD_NOTES: dict[str, str] = {
    "kind": "Selects the alert kind, and so which other fields the alert has.",
    "name": "Alert name: the `alertname` label, the test file name and the dashboard panel key.",
    "team": "The team that owns the alert (a key of `teams`); routing sends it to that team's receivers.",
    "severity": "A key of `severities`; decides the receiver role the alert routes to.",
    "for": "How long the condition must hold before the alert fires.",
    "keep_firing_for": "How long the alert keeps firing after the condition clears.",
    "summary": "One-line summary annotation; `[[ field ]]` is filled in by rulesgen, `{{ ... }}` by Prometheus.",
    "description": "Description annotation; defaults to the value, what it measures and the threshold.",
    "runbook_url": "Runbook link; defaults to `settings.runbook_base_url` followed by the alert name.",
    "labels": "Extra labels on the alert, for routing and inhibition.",
    "enabled": "`false` leaves the alert out (useful as an environment override).",
    "examples": "Hand-written test cases: input series and which label sets fire when; checked against the thresholds.",
    "metric": "A metric declared under `metrics`, of the type this kind reads.",
    "matchers": "Label matchers: a value, a list of values, `{set: <label set>}` or `{not: value(s)}`.",
    "by": "Labels the alert fires per (one alert per network, route, ...); empty sums everything.",
    "window": "Range of the `rate`/`increase` the alert compares.",
    "threshold": "The number the quantity is compared with (see the kind's description for its unit).",
    "direction": "`above` fires when the quantity is above the threshold, `below` when it is below.",
    "aggregation": "How series are combined per `by` group.",
    "unit": "Unit of the gauge, for humanized values in annotations and dashboards.",
    "numerator": "What is divided: the selected series, summed per `by` group.",
    "denominator": "What the numerator is divided by.",
    "quantity": "Name of the recorded quantity; defaults to the alert name in snake_case.",
    "errors": "Failed events.",
    "total": "All events (failed and successful).",
    "ticket_severity": "Severity of the slow-burn (ticket) tiers; the fast-burn tiers use `severity`.",
    "tiers": "Burn-rate tiers; the default is the SRE workbook's four.",
    "quantile": "The latency quantile compared, such as 0.95.",
    "offset": "How far back the baseline is.",
}

_ALERT_FIELD_EXAMPLES: dict[str, list[Any]] = {
    "severity": ["critical", "warning"],
    "team": ["billing"],
    "metric": ["billing_transactions_total"],
    "matchers": [{"status": "failed"}, {"network": {"set": "mainnet_networks"}}],
    "by": [["network"]],
    "summary": ["More than [[ threshold ]] billing transactions failed in [[ window ]][[ scope ]]."],
}


def _constraints(function: Callable[..., Any]) -> Schema:
    """What a string validator checks, as JSON Schema keywords.

    Name validators are closures over a compiled regex (and a `what` naming it), which
    becomes `pattern` (and `title`); other validators are looked up by name."""
    if not inspect.isfunction(function):
        return {}
    names = inspect.getclosurevars(function).nonlocals
    regex = next((v for v in names.values() if isinstance(v, re.Pattern)), None)
    if regex is not None:
        out: Schema = {"pattern": _portable(regex.pattern)}
        if isinstance(names.get("what"), str):
            out["title"] = names["what"]
        return out
    return dict(_KNOWN_VALIDATORS.get(function.__name__, {}))


def _plain(value: Any) -> Any:
    """A default as the spec would write it: durations as text, enums by value, models by alias."""
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, mode="json")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class _Generator(GenerateJsonSchema):
    """pydantic's generator, adjusted to what a spec author reads in an editor."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        # "Threshold" as the title of `threshold` says nothing, and it would hide the
        # type titles (`metric name`, `duration`) that do.
        return False

    def function_after_schema(self, schema: core_schema.AfterValidatorFunctionSchema) -> JsonSchemaValue:
        out = super().function_after_schema(schema)
        function = schema["function"].get("function")
        return {**out, **_constraints(function)} if callable(function) else out

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        # pydantic turns a key pattern into `patternProperties`, which lets keys that do
        # not match through unchecked; `propertyNames` rejects them.
        out = super().dict_schema(schema)
        patterns = out.pop("patternProperties", None)
        if patterns:
            ((pattern, values),) = patterns.items()
            keys = self.generate_inner(schema["keys_schema"]) if "keys_schema" in schema else {}
            out["propertyNames"] = {k: v for k, v in keys.items() if k != "type"} or {"pattern": pattern}
            out["additionalProperties"] = values
        return out

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        # Defaults from factories (`[]`, `{}`, the default burn-rate tiers) are defaults
        # too; an editor shows them on hover.
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()  # type: ignore[call-arg]
        return super().get_default_value(schema)

    def encode_default(self, dft: Any) -> Any:
        return super().encode_default(_plain(dft))


def _walk(node: Any) -> Iterator[Schema]:
    """Every JSON object in a schema, parents first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _rename_defs(schema: Schema, renames: dict[str, str]) -> None:
    """Rename `$defs` entries and every reference to them (`$ref` and discriminator mappings)."""
    defs = schema["$defs"]
    for old, new in renames.items():
        defs[new] = defs.pop(old)
    refs = {f"#/$defs/{old}": f"#/$defs/{new}" for old, new in renames.items()}
    for node in _walk(schema):
        if node.get("$ref") in refs:
            node["$ref"] = refs[node["$ref"]]
        mapping = node.get("discriminator", {}).get("mapping") if isinstance(node.get("discriminator"), dict) else None
        if isinstance(mapping, dict):
            for key, ref in mapping.items():
                mapping[key] = refs.get(ref, ref)


def _describe_alert_fields(kind: str, definition: Schema) -> None:
    definition["title"] = f"{kind} alert"
    for field, prop in definition["properties"].items():
        if "description" not in prop and field in _ALERT_FIELD_NOTES:
            prop["description"] = _ALERT_FIELD_NOTES[field]
        if "examples" not in prop and field in _ALERT_FIELD_EXAMPLES:
            prop["examples"] = _ALERT_FIELD_EXAMPLES[field]


def _override_schema(kind: str, definition: Schema, fixed: frozenset[str]) -> Schema:
    """The fields of one kind an environment may override: all optional, no defaults."""
    properties = {}
    for field, prop in definition["properties"].items():
        if field not in fixed:
            properties[field] = {k: v for k, v in copy.deepcopy(prop).items() if k != "default"}
    return {
        "title": f"{kind} override",
        "description": f"Fields of a {kind} alert an environment may replace; each is validated like the alert's own.",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


def _resolve(schema: Schema, node: Schema) -> Schema:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: Schema = schema["$defs"][ref.removeprefix("#/$defs/")]
        return resolved
    return node


def build_schema() -> Schema:
    """The JSON Schema (draft 2020-12) of thresholds.yaml; see the module docstring."""
    kinds = registry()
    schemas, defs_holder = TypeAdapter.json_schemas(
        [("header", "validation", TypeAdapter(SpecHeader)), ("alert", "validation", alert_adapter())],
        by_alias=True,
        schema_generator=_Generator,
    )
    schema: Schema = {"$defs": defs_holder.get("$defs", {})}

    # Durations: readable in the reference, and "" (which the pattern allows) is not one.
    for node in _walk(schema):
        if node.get("pattern") == DURATION_RE.pattern:
            node.update(pattern=DURATION_PATTERN, title="duration", minLength=1)

    # Alert kinds under stable names (`alert_ratio`) rather than class names, which are
    # an implementation detail that may change without the spec format changing.
    alert = schemas[("alert", "validation")]
    schema["$defs"]["alert"] = {
        **alert,
        "title": "alert",
        "description": "One alert; `kind` decides which fields it has.",
    }
    mapping: dict[str, str] = alert["discriminator"]["mapping"]
    _rename_defs(schema, {ref.removeprefix("#/$defs/"): f"alert_{kind}" for kind, ref in mapping.items()})
    for kind, model in kinds.items():
        definition = schema["$defs"][f"alert_{kind}"]
        _describe_alert_fields(kind, definition)
        fixed = frozenset(getattr(model, "fixed_fields", frozenset({"kind", "name"})))
        schema["$defs"][f"override_{kind}"] = _override_schema(kind, definition, fixed)
    schema["$defs"]["override"] = {
        "title": "override",
        "description": (
            "Fields of one alert replaced in this environment. Any kind's fields are accepted here; "
            "`rulesgen validate` checks them against the overridden alert's own kind."
        ),
        "anyOf": [{"$ref": f"#/$defs/override_{kind}"} for kind in kinds],
    }

    # The header model is the document's root.
    header_name = schemas[("header", "validation")]["$ref"].removeprefix("#/$defs/")
    root = schema["$defs"].pop(header_name)
    # Its docstring is about how rulesgen validates, not about the document.
    root.pop("title", None)
    root.pop("description", None)
    root["properties"]["alerts"] = {
        "type": "array",
        "description": "The alerts, each with a `kind`, a `team`, a `severity`, a `summary` and its kind's fields.",
        "items": {"$ref": "#/$defs/alert"},
    }
    environment = _resolve(schema, root["properties"]["environments"]["additionalProperties"])
    alert_name = schema["$defs"][f"alert_{next(iter(kinds))}"]["properties"]["name"]
    environment["properties"]["overrides"] = {
        "type": "object",
        "description": "Keyed by alert name: that alert's fields as they are in this environment.",
        "propertyNames": {k: v for k, v in alert_name.items() if k in ("pattern", "title")},
        "additionalProperties": {"$ref": "#/$defs/override"},
    }
    return {
        **root,
        "$schema": DIALECT,
        "title": "rulesgen thresholds.yaml",
        "description": (
            "Typed alert thresholds that rulesgen compiles into Prometheus rules, promtool tests, "
            "Alertmanager routing and Grafana dashboards. Generated by `rulesgen schema`; do not edit."
        ),
        "$defs": schema["$defs"],
    }


def render_schema() -> str:
    """The schema file's text: sorted keys, two-space indent, a final newline."""
    return json.dumps(build_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- field reference --------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _anchor(name: str) -> str:
    """GitHub's heading anchor for a heading that is just `name` (possibly in backticks)."""
    return re.sub(r"[^a-z0-9_ -]", "", name.lower()).replace(" ", "-")


def _type_text(schema: Schema, node: Schema) -> str:
    """How a field's type reads in the reference: `duration`, `list of label name`, ..."""
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.removeprefix("#/$defs/")
        target = schema["$defs"][name]
        if "enum" in target:
            return " \\| ".join(f"`{v}`" for v in target["enum"])
        return f"[{name}](#{_anchor(name)})"
    if "const" in node:
        return f"`{node['const']}`"
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    for combinator in ("anyOf", "oneOf"):
        if combinator in node:
            parts = [_type_text(schema, part) for part in node[combinator] if part.get("type") != "null"]
            return " or ".join(parts)
    kind = node.get("type")
    if kind == "array":
        items = _type_text(schema, node.get("items", {}))
        return ("non-empty list of " if node.get("minItems") else "list of ") + items
    if kind == "object":
        keys = node.get("propertyNames", {}).get("title", "string")
        values = node.get("additionalProperties")
        values_text = _type_text(schema, values) if isinstance(values, dict) and values else "anything"
        return f"map of {keys} to {values_text}"
    if kind in ("number", "integer"):
        bounds = [
            f"{op} {node[key]}"
            for key, op in (("exclusiveMinimum", ">"), ("minimum", "≥"), ("exclusiveMaximum", "<"), ("maximum", "≤"))
            if key in node
        ]
        return f"{kind} ({', '.join(bounds)})" if bounds else str(kind)
    if kind == "string":
        return str(node.get("title", "string"))
    return str(kind or "any")


def _default_text(value: Any) -> str:
    return "none" if value is None else f"`{json.dumps(value, ensure_ascii=False)}`"


def _table(schema: Schema, definition: Schema, fields: list[str], long_defaults: list[tuple[str, Any]]) -> list[str]:
    required = set(definition.get("required", []))
    lines = ["| field | type | required / default | description |", "|---|---|---|---|"]
    for field in fields:
        prop = definition["properties"][field]
        if field in required:
            need = "required"
        elif "default" in prop:
            need = _default_text(prop["default"])
            if len(need) > 40:
                # A long default (the burn-rate tiers) would stretch the table; it follows it.
                need = "see below"
                long_defaults.append((field, prop["default"]))
        else:
            need = "optional"
        lines.append(f"| `{field}` | {_type_text(schema, prop)} | {need} | {_cell(prop.get('description', ''))} |")
    return lines


def _definition_section(
    schema: Schema, heading: str, definition: Schema, fields: list[str], note: str = ""
) -> list[str]:
    long_defaults: list[tuple[str, Any]] = []
    lines = [heading, ""]
    if definition.get("description"):
        lines += [_cell(definition["description"]), ""]
    if note:
        lines += [note, ""]
    lines += _table(schema, definition, fields, long_defaults)
    for field, value in long_defaults:
        lines += ["", f"Default of `{field}`:", "", "```json", json.dumps(value, indent=2, ensure_ascii=False), "```"]
    return [*lines, ""]


def _referenced_models(schema: Schema, roots: list[Schema]) -> list[str]:
    """Object definitions reachable from `roots`, in name order."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        for node in _walk(todo.pop()):
            ref = node.get("$ref")
            if isinstance(ref, str):
                name = ref.removeprefix("#/$defs/")
                if name not in seen and "properties" in schema["$defs"][name]:
                    seen.add(name)
                    todo.append(schema["$defs"][name])
    return sorted(seen)


def field_reference() -> str:
    """Markdown: the fields every alert has, then one section per kind with its own fields."""
    schema = build_schema()
    defs = schema["$defs"]
    kinds = list(registry())
    alerts = {kind: defs[f"alert_{kind}"] for kind in kinds}
    first = alerts[kinds[0]]["properties"]
    # Common: present with the same schema in every kind. `kind` differs (its const),
    # so each kind's table starts with it.
    common = [f for f in first if all(alerts[k]["properties"].get(f) == first[f] for k in kinds)]
    lines = [
        "# Alert kinds: field reference",
        "",
        "<!-- Generated by `rulesgen schema` from the models; do not edit. `rulesgen check` fails when it is stale. -->",
        "",
        "Every alert in `thresholds.yaml` has a `kind`; the kind decides which fields it takes.",
        "Durations are Prometheus durations (`30s`, `5m`, `1h30m`, `1w`). An environment may",
        "override any field of an alert but `kind` and `name`",
        "(`environments.<env>.overrides.<AlertName>.<field>`); the overridden value is validated",
        "like the original.",
        "",
        "Kinds: " + ", ".join(f"[`{kind}`](#{_anchor(kind)})" for kind in kinds) + ".",
        "",
    ]
    lines += _definition_section(
        schema,
        "## Fields every alert has",
        {**alerts[kinds[0]], "description": ""},
        common,
    )
    for kind in kinds:
        definition = alerts[kind]
        own = [f for f in definition["properties"] if f not in common]
        note = "Its own fields, besides [the fields every alert has](#fields-every-alert-has):"
        lines += _definition_section(schema, f"## `{kind}`", definition, own, note)
    lines += ["## Types used above", ""]
    for name in _referenced_models(schema, list(alerts.values())):
        definition = defs[name]
        lines += _definition_section(schema, f"### {name}", definition, list(definition["properties"]))
    return "\n".join(lines).rstrip("\n") + "\n"


# --- files and drift ---------------------------------------------------------------


def generated_files() -> dict[str, str]:
    """Path (relative to the project root) -> text of every file `rulesgen schema` writes."""
    return {SCHEMA_PATH: render_schema(), REFERENCE_PATH: field_reference()}


def write_generated(root: Path) -> list[str]:
    """Write the schema and the field reference under `root`; the paths that changed."""
    changed = []
    for rel, text in generated_files().items():
        path = root / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(rel)
    return changed


def schema_drift(root: Path, expected: dict[str, str] | None = None) -> str | None:
    """Why the committed schema or field reference under `root` is stale, or None.

    A root holding neither file is not a checkout that ships them (a spec copied into a
    temporary directory), so there is nothing to compare; the test suite separately
    requires both committed files to exist and be current. `expected`: what
    `generated_files` returns, when the caller has it."""
    expected = expected if expected is not None else generated_files()
    if not any((root / rel).exists() for rel in expected):
        return None
    problems = []
    for rel, text in expected.items():
        path = root / rel
        if not path.is_file():
            problems.append(f"missing: {path}")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"stale: {path}")
    if not problems:
        return None
    return "\n".join([*problems, "the schema or field reference is stale: run `rulesgen schema` and commit them"])
