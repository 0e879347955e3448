"""No secret reaches a generated file: every URL field of the spec (settings, dashboard
links, per-alert runbooks, webhooks) refuses credentials in its userinfo and query or
fragment parameters named like a token, key, password, secret or signature."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import minimal_text, run_cli
from rulesgen.errors import SpecErrors
from rulesgen.pipeline import build_text
from rulesgen.spec.models import secret_in_url

ADVICE = "secrets never go into generated files (every URL is copied into them)"
GRAFANA = '  grafana_base_url: "https://grafana.example.com"'
RUNBOOKS = '  runbook_base_url: "https://runbooks.example.com"'
SUMMARY = '    summary: "ratio"'

# (id, text in the minimal spec, replacement, expected error)
CASES: list[tuple[str, str, str, str]] = [
    (
        "grafana_base_url with user:password",
        GRAFANA,
        '  grafana_base_url: "https://admin:s3cret@grafana.example.com"',
        "spec.yaml:4:21: settings.grafana_base_url: inline secret: the URL carries credentials (user:password@)",
    ),
    (
        "runbook_base_url with an access token",
        RUNBOOKS,
        '  runbook_base_url: "https://runbooks.example.com/?access_token=abc"',
        "spec.yaml:3:21: settings.runbook_base_url: inline secret: the URL's query parameter 'access_token' "
        "looks like a credential",
    ),
    (
        "platform_base_url with an API key",
        GRAFANA,
        GRAFANA + '\n  dashboards: {platform_base_url: "https://p.example.com/?apiKey=1"}',
        "spec.yaml:5:35: settings.dashboards.platform_base_url: inline secret: the URL's query parameter 'apiKey' "
        "looks like a credential",
    ),
    (
        "a dashboard link with a signature",
        GRAFANA,
        GRAFANA + '\n  dashboards: {platform_base_url: "https://p.example.com", links: ["/billing?X-Amz-Signature=f"]}',
        "spec.yaml:5:68: settings.dashboards.links[0]: inline secret: the URL's query parameter 'X-Amz-Signature' "
        "looks like a credential",
    ),
    (
        "a per-alert runbook_url with a token in the fragment",
        SUMMARY,
        SUMMARY + '\n    runbook_url: "https://wiki.example.com/page#id_token=x"',
        "spec.yaml:45:18: alerts[1].runbook_url: inline secret: the URL's fragment parameter 'id_token' "
        "looks like a credential",
    ),
    (
        "a per-alert runbook_url with a user only",
        SUMMARY,
        SUMMARY + '\n    runbook_url: "https://bot@wiki.example.com/page"',
        "spec.yaml:45:18: alerts[1].runbook_url: inline secret: the URL carries credentials (user:password@)",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_secret_in_a_url_is_a_spec_error(old: str, new: str, expected: str) -> None:
    text = minimal_text()
    assert old in text
    with pytest.raises(SpecErrors) as err:
        build_text(text.replace(old, new, 1), "spec.yaml", tests=False)
    assert [str(e) for e in err.value.errors] == [f"{expected}; {ADVICE}"]


@pytest.mark.parametrize(
    "url",
    [
        "https://runbooks.example.com/billing?tab=alerts&keyboard=1",
        "https://grafana.example.com/d/x?orgId=1&var-env=prod",
        "https://wiki.example.com/page#section-2",
        "https://wiki.example.com/monkey?donkey=1",
    ],
)
def test_ordinary_parameters_pass(url: str) -> None:
    assert secret_in_url(url) is None


def test_the_cli_writes_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "thresholds.yaml"
    spec.write_text(minimal_text().replace(GRAFANA, '  grafana_base_url: "https://admin:s3cret@grafana.example.com"'))
    result = run_cli("generate", "--spec", str(spec), "--output", str(tmp_path / "output"))
    assert (result.returncode, "Traceback" in result.stderr) == (2, False)
    assert not (tmp_path / "output").exists()
