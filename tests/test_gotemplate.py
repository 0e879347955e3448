"""The Go template functions rulesgen predicts annotations with, checked against
promtool's own rendering: each value becomes an alert whose annotations apply every
function, and promtool must see exactly what `expand` predicts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import require
from rulesgen.model.gotemplate import FUNCTIONS, expand, go_float
from rulesgen.targets.yamlout import dump

VALUES = [
    0, 1, -1, 0.5, 0.1, 0.25, 0.999, 1.5, 2, 10, 42, 99.5, 100, 123.456, 999, 1000, 1023, 1024, 1025,
    1536, 4096, 65536, 86399, 86400, 90061, 1e6, 1234567, 1e9, 1.5e12, 1e21, 1e-3, 0.001234, 1.5e-7,
    -0.5, -1234.5, 3600, 3661, 0.0001, 60, 59.9,
]  # fmt: skip

TEMPLATES = {"value": "{{ $value }}", **{name: f"{{{{ $value | {name} }}}}" for name in FUNCTIONS}}


def test_the_table_is_large_enough_and_bare_values_print_like_go() -> None:
    assert len(VALUES) >= 30
    assert go_float(1e6) == "1e+06" and go_float(1234567) == "1.234567e+06" and go_float(123456) == "123456"
    assert go_float(0.5) == "0.5" and go_float(1e-5) == "1e-05" and go_float(0.0001) == "0.0001"


def test_every_function_matches_promtool(tmp_path: Path) -> None:
    promtool = require("promtool")
    rules = {
        "groups": [
            {
                "name": "values",
                "rules": [
                    {"alert": f"V{i}", "expr": f"vector({value!r})", "annotations": TEMPLATES}
                    for i, value in enumerate(VALUES)
                ],
            }
        ]
    }
    (tmp_path / "rules.yml").write_bytes(dump(rules))
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [],
                "alert_rule_test": [
                    {
                        "eval_time": "0m",
                        "alertname": f"V{i}",
                        "exp_alerts": [
                            {
                                "exp_labels": {},
                                "exp_annotations": {k: expand(t, (), float(value)) for k, t in TEMPLATES.items()},
                            }
                        ],
                    }
                    for i, value in enumerate(VALUES)
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_bytes(dump(tests))
    proc = subprocess.run(
        [promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("value", "function", "want"),
    [
        (1e6, "humanize", "1M"),
        (1024, "humanize1024", "1ki"),
        (0.25, "humanizePercentage", "25%"),
        (90061, "humanizeDuration", "1d 1h 1m 1s"),
    ],
)
def test_known_renderings(value: float, function: str, want: str) -> None:
    assert FUNCTIONS[function](value) == want
