"""rulesgen's Go template parser agrees with promtool: each template becomes an
annotation of one alert, and promtool's verdict and message for it must be ours."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from conftest import require
from rulesgen.model.goparse import GoTemplateError, check
from rulesgen.targets.yamlout import dump

TEMPLATES = [
    "plain text, no actions",
    "{{ $value }}",
    "{{ $value | humanizePercentage }} on {{ $labels.network }}",
    "{{- $value -}}",
    "{{/* a comment */}}{{ $value }}",
    "{{ if gt $value 1.0 }}high{{ else if lt $value 0.5 }}low{{ else }}mid{{ end }}",
    '{{ range $i, $e := query "up" }}{{ $i }}{{ $e.Labels.job }}{{ end }}',
    '{{ with $x := printf "%s" "a" }}{{ $x }}{{ end }}',
    "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}",
    '{{ `raw` }} {{ "q\\"uoted" }} {{ \'c\' }} {{ 1.5e3 }} {{ -2 }} {{ 0x1F }}',
    "{{ (humanize $value) }}",
    "{{ $externalLabels.cluster }} {{ $externalURL }} {{ .Value }}",
    "{{ $value",
    "{{ $value }",
    "{{ }}",
    "{{ end }}",
    "{{ else }}",
    "{{ if true }}",
    "{{ range . }}{{ break }}{{ end }}",
    "{{ break }}",
    "{{ nosuch $value }}",
    "{{ now }}",
    "{{ $undefined }}",
    "{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}",
    '{{ "unterminated }}',
    "{{ `unterminated }}",
    "{{ ( $value }}",
    "{{ $value ) }}",
    "{{ $value | }}",
    "{{ nil }}",
    "{{/* unclosed comment }}",
    "{{ 1abc }}",
    "{{ $value : 1 }}",
    '{{ define "x" }}{{ end }}',
    '{{ template "x" }}',
]


def promtool_verdicts(promtool: str, tmp_path: Path) -> dict[int, str]:
    rules = {
        "groups": [
            {
                "name": "g",
                "rules": [
                    {"alert": f"T{i}", "expr": "vector(1)", "annotations": {"summary": text}}
                    for i, text in enumerate(TEMPLATES)
                ],
            }
        ]
    }
    path = tmp_path / "rules.yml"
    path.write_bytes(dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode in (0, 1), result.stderr
    found = re.findall(r'"T(\d+)": annotation "summary": template: __alert_T\d+:\d+: (.*)', result.stderr)
    return {int(i): message for i, message in found}


def ours(text: str) -> str | None:
    try:
        check(text)
    except GoTemplateError as exc:
        return str(exc)
    return None


def test_the_parser_agrees_with_promtool(tmp_path: Path) -> None:
    refused = promtool_verdicts(require("promtool"), tmp_path)
    assert 15 <= len(refused) < len(TEMPLATES), "the table must hold both good and bad templates"
    assert {text: ours(text) for text in TEMPLATES} == {text: refused.get(i) for i, text in enumerate(TEMPLATES)}
