"""A spec's templates are data: `[[ name ]]` and `[[ name | filter ]]` only. Payloads
that ran code, crashed or hung under Jinja are spec errors with line and column, and
every annotation and label parses as the Go template Prometheus will expand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import minimal_text, run_cli
from rulesgen.errors import SpecErrors
from rulesgen.lower.templates import TemplateError, render_template
from rulesgen.pipeline import build_text

AT = "spec.yaml:44:14: alerts[1].summary: "
FORMS = "a template is [[ name ]] or [[ name | filter ]] (filters: num, percent)"


def unsupported(excerpt: str) -> str:
    return f"{AT}template error: {excerpt} is not supported; {FORMS}"


# (id, summary as the spec's author wrote it, the one error it gives)
PAYLOADS: list[tuple[str, str, str]] = [
    (
        "shell through lipsum globals",
        "[[ lipsum.__globals__['os'].popen('id').read() ]]",
        unsupported("[[ lipsum.__globals__['os'].popen('id..."),
    ),
    (
        "attribute walk to subclasses",
        "[[ ''.__class__.__mro__[1].__subclasses__() ]]",
        unsupported("[[ ''.__class__.__mro__[1].__subclass..."),
    ),
    ("attribute of a field", "[[ threshold.real ]]", unsupported("[[ threshold.real ]]")),
    ("call", "[[ range(10) ]]", unsupported("[[ range(10) ]]")),
    ("division by zero", "[[ 1 / 0 ]]", unsupported("[[ 1 / 0 ]]")),
    ("huge power", "[[ 10 ** 5000 ]]", unsupported("[[ 10 ** 5000 ]]")),
    ("power that hangs", "[[ (7 ** 300000000) > 1 ]]", unsupported("[[ (7 ** 300000000) > 1 ]]")),
    (
        "recursive macro",
        "[% macro m() %][[ m() ]][% endmacro %][[ m() ]]",
        f"{AT}template error: [% ... blocks are not supported; {FORMS}",
    ),
    ("comment block", "[# hidden #]", f"{AT}template error: [# ... blocks are not supported; {FORMS}"),
    (
        "python format string",
        "[[ '{0.__class__}'.format(threshold) ]]",
        unsupported("[[ '{0.__class__}'.format(threshold) ]]"),
    ),
    ("percent format", "[[ '%s' % threshold ]]", unsupported("[[ '%s' % threshold ]]")),
    ("filter with arguments", "[[ threshold | round(2) ]]", unsupported("[[ threshold | round(2) ]]")),
    ("two filters", "[[ threshold | num | percent ]]", unsupported("[[ threshold | num | percent ]]")),
    ("unclosed", "ratio [[ threshold", unsupported("[[ threshold (no closing ]])")),
    ("empty", "[[ ]]", unsupported("[[ ]]")),
    ("unknown name", "[[ treshold ]]", f"{AT}template error: 'treshold' is undefined"),
    ("unknown filter", "[[ threshold | attr ]]", f"{AT}template error: no filter named 'attr'; filters: num, percent"),
    (
        "a list field",
        "[[ denominator ]]",
        f"{AT}template error: 'denominator' is not a single value a template can print",
    ),
    ("filter on text", "[[ name | percent ]]", f"{AT}template error: filter 'percent' needs a number, not 'TxRatio'"),
    (
        "unbalanced Go template",
        "{{ $value",
        f"{AT}Go template error (Prometheus would refuse it): unclosed action",
    ),
    (
        "Go template calling an unknown function",
        "{{ exec $value }}",
        f'{AT}Go template error (Prometheus would refuse it): function "exec" not defined',
    ),
]


def spec_with_summary(summary: str) -> str:
    text = minimal_text()
    assert 'summary: "ratio"' in text
    # JSON strings are YAML double-quoted scalars: the summary's column stays 14.
    return text.replace('summary: "ratio"', f"summary: {json.dumps(summary)}", 1)


@pytest.mark.parametrize(("summary", "expected"), [p[1:] for p in PAYLOADS], ids=[p[0] for p in PAYLOADS])
def test_payload_is_a_spec_error(summary: str, expected: str) -> None:
    with pytest.raises(SpecErrors) as err:
        build_text(spec_with_summary(summary), "spec.yaml", tests=False)
    assert [str(e) for e in err.value.errors] == [expected]


def test_no_payload_runs_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = f"[[ lipsum.__globals__['os'].popen('touch {marker}').read() ]]"
    with pytest.raises(SpecErrors):
        build_text(spec_with_summary(payload), "spec.yaml", tests=False)
    assert not marker.exists()


def test_cli_gives_exit_2_json_and_writes_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "thresholds.yaml"
    spec.write_text(spec_with_summary("[[ 10 ** 5000 ]]"))
    out = tmp_path / "output"
    generated = run_cli("generate", "--spec", str(spec), "--output", str(out))
    assert (generated.returncode, "Traceback" in generated.stderr, out.exists()) == (2, False, False)
    assert f"{spec}:44:14: alerts[1].summary: template error: [[ 10 ** 5000 ]] is not supported" in generated.stderr
    validated = run_cli("validate", "--spec", str(spec), "--format", "json")
    assert validated.returncode == 2
    assert "template error" in json.dumps(json.loads(validated.stdout))


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("More than [[ threshold ]][[ scope ]]", "More than 5 on network {{ $labels.network }}"),
        ("[[threshold|percent]] and [[ threshold | num ]]", "500% and 5"),
        ("no placeholders: ]] [ [", "no placeholders: ]] [ ["),
        ("[[ big | num ]]", "1e+300"),
    ],
)
def test_placeholders_render(template: str, expected: str) -> None:
    variables = {"threshold": 5, "scope": " on network {{ $labels.network }}", "big": 10**300}
    assert render_template(template, variables) == expected.replace("1e+300", repr(1e300))


@pytest.mark.parametrize("value", [10**400, float("inf"), float("nan"), 1e308])
def test_filters_refuse_what_does_not_print(value: float) -> None:
    with pytest.raises(TemplateError, match="finite number"):
        render_template("[[ v | percent ]]", {"v": value})


def test_a_label_is_parsed_as_a_go_template() -> None:
    text = minimal_text().replace(
        'team: "billing"\n    summary: "ratio"', 'team: "billing"\n    labels: {x: "{{ end }}"}\n    summary: "ratio"'
    )
    with pytest.raises(SpecErrors) as err:
        build_text(text, "spec.yaml", tests=False)
    assert [str(e) for e in err.value.errors] == [
        "spec.yaml:44:17: alerts[1].labels.x: Go template error (Prometheus would refuse it): unexpected {{end}}"
    ]


def test_a_url_that_becomes_an_annotation_is_parsed_as_a_go_template() -> None:
    text = minimal_text().replace('"https://runbooks.example.com"', '"https://runbooks.example.com/{{"', 1)
    with pytest.raises(SpecErrors) as err:
        build_text(text, "spec.yaml", tests=False)
    assert [str(e) for e in err.value.errors] == [
        "spec.yaml:3:21: settings.runbook_base_url: Go template error (Prometheus would refuse it): unclosed action"
    ]
