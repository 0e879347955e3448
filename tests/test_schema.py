"""The JSON Schema of thresholds.yaml: the shipped spec passes it, the bad inputs of
the error table fail it as they fail `rulesgen validate`, the committed copy and the
field reference are current, and `rulesgen check` notices when they are not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, ValidationError  # type: ignore[import-untyped]  # no stubs in dev deps

from conftest import ROOT, SPEC, minimal_text, run_cli
from rulesgen.errors import SpecErrors
from rulesgen.kinds import registry
from rulesgen.pipeline import build_text
from rulesgen.promql import Duration
from rulesgen.schema import (
    REFERENCE_PATH,
    SCHEMA_PATH,
    build_schema,
    field_reference,
    generated_files,
    render_schema,
    schema_drift,
)

MODELINE = "# yaml-language-server: $schema=./schema/thresholds.schema.json"


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((ROOT / SCHEMA_PATH).read_text(encoding="utf-8"))
    return schema


@pytest.fixture(scope="module")
def validator(committed: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(committed)
    return Draft202012Validator(committed)


def _paths(errors: Iterable[ValidationError]) -> set[str]:
    """Where the errors point, including those inside a failed oneOf/anyOf branch."""
    out: set[str] = set()
    for error in errors:
        out.add("/".join(str(part) for part in error.absolute_path))
        out |= _paths(error.context or ())
    return out


def _edit(old: str, new: str) -> str:
    text = minimal_text()
    assert old in text, "test case no longer matches the minimal spec"
    return text.replace(old, new, 1)


# --- the committed files --------------------------------------------------------------


def test_shipped_spec_validates_against_committed_schema(validator: Draft202012Validator) -> None:
    errors = list(validator.iter_errors(yaml.safe_load(SPEC.read_text(encoding="utf-8"))))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_spec_starts_with_the_modeline_pointing_at_the_schema() -> None:
    first = SPEC.read_text(encoding="utf-8").splitlines()[0]
    assert first == MODELINE
    assert (SPEC.parent / first.split("$schema=", 1)[1]).resolve() == (ROOT / SCHEMA_PATH).resolve()


def test_committed_files_are_current() -> None:
    """Drift test: regenerate with `rulesgen schema` when a model changes."""
    for rel, text in generated_files().items():
        assert (ROOT / rel).read_text(encoding="utf-8") == text, f"{rel} is stale: run `rulesgen schema`"
    assert schema_drift(ROOT) is None


def test_schema_is_deterministic_across_hash_seeds() -> None:
    code = "import sys; from rulesgen.schema import render_schema; sys.stdout.write(render_schema())"
    for seed in ("1", "4242"):
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert result.stdout == render_schema()


# --- structure ----------------------------------------------------------------------


def test_every_kind_is_a_oneof_branch_pinned_by_const() -> None:
    schema = build_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["alerts"]["items"] == {"$ref": "#/$defs/alert"}
    branches = [b["$ref"] for b in schema["$defs"]["alert"]["oneOf"]]
    assert branches == [f"#/$defs/alert_{kind}" for kind in registry()]
    for kind in registry():
        definition = schema["$defs"][f"alert_{kind}"]
        assert definition["properties"]["kind"]["const"] == kind
        assert definition["additionalProperties"] is False
        assert "description" in definition  # the kind's docstring


def test_aliases_not_python_names() -> None:
    text = render_schema()
    assert '"for_"' not in text and '"not_"' not in text
    schema = build_schema()
    assert "for" in schema["$defs"]["alert_counter_increase"]["properties"]
    assert "not" in schema["$defs"]["NotMatcher"]["properties"]


def test_descriptions_come_from_the_models() -> None:
    schema = build_schema()
    latency = schema["$defs"]["alert_latency_regression"]["properties"]
    # Field(description=...) in the latency kind's model
    assert "20% above the baseline" in latency["threshold"]["description"]
    assert schema["$defs"]["SetRef"]["description"].startswith("`{set: mainnet_networks}`")


@pytest.mark.parametrize("text", ["5m", "1h30m", "100ms", "1w", "0s", "2d12h", "1y"])
def test_duration_pattern_accepts_prometheus_durations(text: str) -> None:
    Duration.parse(text)
    prop = build_schema()["$defs"]["alert_counter_increase"]["properties"]["window"]
    Draft202012Validator(prop).validate(text)


@pytest.mark.parametrize("text", ["", "5", "5 m", "-5m", "1 minute", "5M", "m5", "1.5h", "soon"])
def test_duration_pattern_rejects_what_rulesgen_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        Duration.parse(text)
    prop = build_schema()["$defs"]["alert_counter_increase"]["properties"]["window"]
    assert not Draft202012Validator(prop).is_valid(text)


def test_overrides_are_partial_kind_schemas_without_kind_name_or_defaults() -> None:
    schema = build_schema()
    environment = schema["$defs"]["EnvironmentSpec"]["properties"]["overrides"]
    assert environment["additionalProperties"] == {"$ref": "#/$defs/override"}
    assert environment["propertyNames"]["pattern"] == "^[A-Z][a-zA-Z0-9_]*$"
    for kind in registry():
        partial = schema["$defs"][f"override_{kind}"]
        full = schema["$defs"][f"alert_{kind}"]
        assert "required" not in partial and partial["additionalProperties"] is False
        assert set(partial["properties"]) == set(full["properties"]) - {"kind", "name"}
        assert not any("default" in prop for prop in partial["properties"].values())


# --- bad inputs: schema and `rulesgen validate` agree -----------------------------------

# (id, text in the minimal spec, replacement, where the schema must report it). Each
# mirrors a shape error of tests/test_errors.py; rulesgen must reject it too, so the
# schema is never stricter than the compiler.
BAD: list[tuple[str, str, str, str]] = [
    ("typo in a key", "    threshold: 5\n", "    treshold: 5\n", "alerts/0"),
    ("wrong type", "    threshold: 5\n", '    threshold: "five"\n', "alerts/0/threshold"),
    ("negative count", "    threshold: 5\n", "    threshold: -1\n", "alerts/0/threshold"),
    ("ratio above 1", "threshold: 0.1", "threshold: 1.5", "alerts/1/threshold"),
    ("negative duration", 'window: "5m"\n    threshold: 5', 'window: "-5m"\n    threshold: 5', "alerts/0/window"),
    ("malformed duration", 'for: "1m"', 'for: "1 minute"', "alerts/0/for"),
    ("duration as a number", 'for: "1m"', "for: 60", "alerts/0/for"),
    ("alert name not an identifier", 'name: "TxRatio"', 'name: "Tx Ratio"', "alerts/1/name"),
    (
        "newline in a label value",
        'matchers: {status: "failed"}',
        'matchers: {status: "fai\\nled"}',
        "alerts/0/matchers/status",
    ),
    ("unknown kind", 'kind: "ratio"', 'kind: "ratioo"', "alerts/1/kind"),
    ("missing kind", '    kind: "counter_increase"\n', "", "alerts/0"),
    ("missing summary", '    summary: "ratio"\n', "", "alerts/1"),
    ("empty list of values", 'matchers: {status: "failed"}', "matchers: {status: []}", "alerts/0/matchers/status"),
    ("unknown top-level key", "label_sets:", "labelsets: {}\nlabel_sets:", ""),
    (
        "missing settings",
        'settings:\n  runbook_base_url: "https://runbooks.example.com"\n  grafana_base_url: "https://grafana.example.com"\n',
        "",
        "",
    ),
    ("unsupported version", "version: 1", "version: 2", "version"),
    ("no environments", "environments:\n  prod: {}", "environments: {}", "environments"),
    ("unknown metric type", 'type: "gauge"', 'type: "summary"', "metrics/pending/type"),
    ("metric name with a dash", "  pending:\n", "  pending-tx:\n", "metrics"),
    ("url without scheme", '"https://grafana.example.com"', '"grafana.example.com"', "settings/grafana_base_url"),
    (
        "inline secret",
        "teams:\n  billing: {}",
        'teams:\n  billing:\n    receivers:\n      pager: {pagerduty: {routing_key: "0123456789abcdef"}}',
        "teams/billing/receivers/pager/pagerduty",
    ),
    (
        "override of an unknown field",
        "  prod: {}",
        "  prod:\n    overrides:\n      TxRatio: {treshold: 0.2}",
        "environments/prod/overrides/TxRatio",
    ),
    (
        "override of the kind",
        "  prod: {}",
        '  prod:\n    overrides:\n      TxRatio: {kind: "counter_increase"}',
        "environments/prod/overrides/TxRatio",
    ),
    (
        "override with a bad duration",
        "  prod: {}",
        '  prod:\n    overrides:\n      TxFailing: {for: "soon"}',
        "environments/prod/overrides/TxFailing/for",
    ),
    (
        "override with a value no kind takes",
        "  prod: {}",
        '  prod:\n    overrides:\n      TxFailing: {enabled: "no"}',
        "environments/prod/overrides/TxFailing/enabled",
    ),
]


@pytest.mark.parametrize(("old", "new", "where"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_fails_schema_and_rulesgen(validator: Draft202012Validator, old: str, new: str, where: str) -> None:
    text = _edit(old, new)
    errors = list(validator.iter_errors(yaml.safe_load(text)))
    assert errors, "the schema accepts it"
    assert where in _paths(errors)
    with pytest.raises(SpecErrors):
        build_text(text, "spec.yaml", tests=False)


def test_python_field_names_are_not_spec_keys(validator: Draft202012Validator) -> None:
    """The spec is written with aliases (`for`, `not`). pydantic's populate_by_name
    currently lets `rulesgen validate` accept `for_` as well; the schema, which is
    what editors complete from, offers and accepts only the spec's own keys."""
    cases = [
        ('for: "1m"', 'for_: "1m"', "alerts/0"),
        ('{status: "failed"}\n    by', '{network: {not_: "x"}}\n    by', "alerts/0/matchers/network"),
    ]
    for old, new, where in cases:
        errors = list(validator.iter_errors(yaml.safe_load(_edit(old, new))))
        assert where in _paths(errors)


# Errors only the whole document shows. The schema accepts these (see the module
# docstring of rulesgen.schema); should it learn one, move the case to BAD.
NEEDS_THE_DOCUMENT: list[tuple[str, str, str]] = [
    ("unknown metric", 'metric: "tx_total"\n    matchers', 'metric: "tx_totl"\n    matchers'),
    ("unknown team", 'team: "billing"\n    summary: "ratio"', 'team: "payments"\n    summary: "ratio"'),
    ("override of an unknown alert", "  prod: {}", "  prod:\n    overrides:\n      TxFail: {threshold: 3}"),
    ("ratio override above 1", "  prod: {}", "  prod:\n    overrides:\n      TxRatio: {threshold: 2}"),
]


@pytest.mark.parametrize(("old", "new"), [c[1:] for c in NEEDS_THE_DOCUMENT], ids=[c[0] for c in NEEDS_THE_DOCUMENT])
def test_document_level_errors_are_left_to_rulesgen(validator: Draft202012Validator, old: str, new: str) -> None:
    text = _edit(old, new)
    assert validator.is_valid(yaml.safe_load(text))
    with pytest.raises(SpecErrors):
        build_text(text, "spec.yaml", tests=False)


GOOD: list[tuple[str, str, str]] = [
    ("minimal spec as is", "", ""),
    (
        "label set matcher",
        'matchers: {status: "failed"}\n    by',
        'matchers: {status: "failed", network: {set: "mainnets"}}\n    by',
    ),
    ("negated matcher", 'matchers: {status: "failed"}', 'matchers: {status: "failed", network: {not: "polygon-amoy"}}'),
    ("list matcher", 'matchers: {status: "failed"}', 'matchers: {status: ["failed", "timeout"]}'),
    ("integer threshold on a ratio", "threshold: 0.1", "threshold: 1\n    direction: below\n    for: 0s"),
    (
        "typed overrides",
        "  prod: {}",
        '  prod:\n    labels: {cluster: "eu-1"}\n    overrides:\n'
        '      TxRatio: {threshold: 0.2, for: "10m", direction: "above"}\n      TxFailing: {enabled: false}',
    ),
    (
        "gauge and burn-rate alerts with defaults",
        'summary: "ratio"\n',
        'summary: "ratio"\n'
        '  - {name: "Backlog", kind: "gauge_threshold", metric: "pending", direction: "below", aggregation: "max",'
        ' threshold: 1, keep_firing_for: "5m", severity: "warning", team: "billing", summary: "low"}\n'
        '  - {name: "Budget", kind: "burn_rate", errors: {metric: "tx_total", matchers: {status: "failed"}},'
        ' total: {metric: "tx_total"}, objective: 0.99, severity: "critical", ticket_severity: "warning",'
        ' team: "billing", summary: "burn"}\n',
    ),
]


@pytest.mark.parametrize(("old", "new"), [c[1:] for c in GOOD], ids=[c[0] for c in GOOD])
def test_good_variants_pass_schema_and_rulesgen(validator: Draft202012Validator, old: str, new: str) -> None:
    text = _edit(old, new) if old else minimal_text()
    errors = list(validator.iter_errors(yaml.safe_load(text)))
    assert not errors, [e.message for e in errors]
    build_text(text, "spec.yaml", tests=False)


# --- field reference ----------------------------------------------------------------


def test_field_reference_has_a_section_and_row_per_kind_field() -> None:
    text = field_reference()
    schema = build_schema()
    for kind in registry():
        section = text.split(f"## `{kind}`\n", 1)[1].split("\n## ", 1)[0]
        assert f"| `kind` | `{kind}` | required |" in section
        for field in schema["$defs"][f"alert_{kind}"]["properties"]:
            assert f"| `{field}` |" in text, (kind, field)
    assert "| `threshold` | number (≥ 0, ≤ 1) | required |" in text.split("## `ratio`", 1)[1]
    assert '| `for` | duration | `"0s"` |' in text


# --- files and `rulesgen check` ---------------------------------------------------------


def test_schema_command_writes_and_check_detects_drift(tmp_path: Path) -> None:
    spec = tmp_path / "thresholds.yaml"
    spec.write_text(minimal_text())
    out = tmp_path / "output"
    assert run_cli("generate", "--spec", str(spec), "--output", str(out)).returncode == 0
    # A spec outside a checkout that ships the schema: nothing to compare.
    assert schema_drift(tmp_path) is None

    assert run_cli("schema", "--spec", str(spec)).returncode == 0
    for rel, text in generated_files().items():
        assert (tmp_path / rel).read_text(encoding="utf-8") == text
    assert run_cli("check", "--spec", str(spec), "--output", str(out)).returncode == 0

    schema = tmp_path / SCHEMA_PATH
    schema.write_text(schema.read_text(encoding="utf-8").replace('"minimum": 0', '"minimum": 1', 1))
    result = run_cli("check", "--spec", str(spec), "--output", str(out))
    assert result.returncode == 1
    assert f"stale: {schema}" in result.stdout and "run `rulesgen schema`" in result.stdout

    schema.unlink()
    drift = schema_drift(tmp_path)
    assert drift is not None and f"missing: {schema}" in drift
    assert run_cli("check", "--spec", str(spec), "--output", str(out), "--format", "json").returncode == 1

    shutil.rmtree(tmp_path / "docs")
    assert schema_drift(tmp_path) is None
    assert not (tmp_path / REFERENCE_PATH).exists()
