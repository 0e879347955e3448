"""Table-driven bad inputs: each gives its exact message with line and column, exit 2,
and leaves output/ untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import minimal_text, run_cli
from rulesgen.errors import SpecErrors
from rulesgen.pipeline import build_text

# (id, text to replace in the minimal spec, replacement, expected errors)
CASES: list[tuple[str, str, str, list[str]]] = [
    (
        "zero window",
        'window: "5m"\n    threshold: 5',
        'window: "0s"\n    threshold: 5',
        ["spec.yaml:30:13: alerts[0].window: 0s must be longer than 0s"],
    ),
    (
        "window too long to test",
        'window: "5m"\n    threshold: 5',
        'window: "10000w"\n    threshold: 5',
        [
            "spec.yaml:25:5: alerts[0]: cannot generate tests: a test scenario would need 201,600,018 samples "
            "of 1m (at most 100,000): shorten the window, offset or `for`, or lengthen the interval"
        ],
    ),
    (
        "malformed yaml",
        'window: "5m"\n    threshold: 5',
        'window: "5m"\n    threshold: [5',
        [
            "spec.yaml:32:8: malformed YAML: did not find expected ',' or ']' "
            "(while parsing a flow sequence opened at line 31, column 16)"
        ],
    ),
    (
        "typo in a key",
        "    threshold: 5\n",
        "    treshold: 5\n",
        [
            "spec.yaml:25:5: alerts[0].threshold: missing required key 'threshold'",
            "spec.yaml:31:5: alerts[0].treshold: unknown key 'treshold'; did you mean 'threshold'?",
        ],
    ),
    (
        "wrong type",
        "    threshold: 5\n",
        '    threshold: "five"\n',
        ["spec.yaml:31:16: alerts[0].threshold: Input should be a valid number, got 'five'"],
    ),
    (
        "ratio above 1",
        "threshold: 0.1",
        "threshold: 1.5",
        ["spec.yaml:41:16: alerts[1].threshold: Input should be less than or equal to 1"],
    ),
    (
        "negative duration",
        'window: "5m"\n    threshold: 5',
        'window: "-5m"\n    threshold: 5',
        [
            "spec.yaml:30:13: alerts[0].window: '-5m' is not a Prometheus duration (like 30s, 5m, 1h30m, 1w)",
        ],
    ),
    (
        "malformed duration",
        'for: "1m"',
        'for: "1 minute"',
        ["spec.yaml:32:10: alerts[0].for: '1 minute' is not a Prometheus duration (like 30s, 5m, 1h30m, 1w)"],
    ),
    (
        "unknown metric",
        'metric: "tx_total"\n    matchers: {status: "failed"}\n    by',
        'metric: "tx_totl"\n    matchers: {status: "failed"}\n    by',
        [
            "spec.yaml:27:13: alerts[0].metric: unknown metric 'tx_totl'; declare it under metrics; did you mean 'tx_total'?"
        ],
    ),
    (
        "unknown label",
        'matchers: {status: "failed"}\n    by',
        'matchers: {state: "failed"}\n    by',
        [
            "spec.yaml:28:16: alerts[0].matchers.state: metric 'tx_total' has no label 'state'; it has: status, network; did you mean 'status'?"
        ],
    ),
    (
        "unknown grouping label",
        'by: ["network"]',
        'by: ["chain"]',
        ["spec.yaml:29:10: alerts[0].by[0]: cannot group by 'chain': metric 'tx_total' has no such label"],
    ),
    (
        "duplicate alert name",
        'name: "TxRatio"',
        'name: "TxFailing"',
        ["spec.yaml:36:11: alerts[1].name: duplicate alert name 'TxFailing' (first at line 25)"],
    ),
    (
        "alert name not an identifier",
        'name: "TxRatio"',
        'name: "Tx Ratio"',
        [
            "spec.yaml:36:11: alerts[1].name: 'Tx Ratio' is not a valid alert name (CamelCase identifier) "
            "(must match ^[A-Z][a-zA-Z0-9_]*$)",
        ],
    ),
    (
        "newline in a label value",
        'matchers: {status: "failed"}',
        'matchers: {status: "fai\\nled"}',
        [
            "spec.yaml:28:24: alerts[0].matchers.status: 'fai\\nled' contains a newline or control character, "
            "which cannot appear in a label value",
        ],
    ),
    (
        "yaml 1.1 boolean",
        'summary: "ratio"',
        "summary: No",
        [
            "spec.yaml:44:14: alerts[1].summary: YAML reads the bare word 'No' as a boolean; quote it (\"No\") "
            "for text, or write true/false",
        ],
    ),
    (
        "unknown kind",
        'kind: "ratio"',
        'kind: "ratioo"',
        [
            "spec.yaml:37:11: alerts[1].kind: unknown kind 'ratioo'; expected one of: absence_guard, absent, burn_rate, "
            "counter_increase, gauge_ratio, gauge_threshold, latency_regression, present, ratio",
        ],
    ),
    (
        "counter kind on a gauge",
        'metric: "tx_total"\n    matchers: {status: "failed"}\n    by',
        'metric: "pending"\n    matchers: {}\n    by',
        ["spec.yaml:27:13: alerts[0].metric: counter_increase needs a counter but 'pending' is a gauge"],
    ),
    (
        "unknown team and severity",
        '    severity: "critical"\n    team: "billing"\n    summary: "ratio"',
        '    severity: "page"\n    team: "payments"\n    summary: "ratio"',
        [
            "spec.yaml:42:15: alerts[1].severity: unknown severity 'page'; declared: critical, warning",
            "spec.yaml:43:11: alerts[1].team: unknown team 'payments'; declared: billing",
        ],
    ),
    (
        "unknown label set",
        'matchers: {status: "failed"}\n    by',
        'matchers: {network: {set: "mainnet"}}\n    by',
        ["spec.yaml:28:31: alerts[0].matchers.network.set: unknown label set 'mainnet'"],
    ),
    (
        "unknown template variable",
        'summary: "ratio"',
        'summary: "ratio [[ treshold ]]"',
        ["spec.yaml:44:14: alerts[1].summary: template error: 'treshold' is undefined"],
    ),
    (
        "override of an unknown alert and field",
        "  prod: {}",
        "  prod:\n    overrides:\n      TxFail: {threshold: 3}\n      TxRatio: {treshold: 0.2}",
        [
            "spec.yaml:8:7: environments.prod.overrides.TxFail: override names unknown alert 'TxFail'; "
            "did you mean 'TxFailing'? [prod]",
            "spec.yaml:9:17: environments.prod.overrides.TxRatio.treshold: ratio alert TxRatio has no field "
            "'treshold'; did you mean 'threshold'? [prod]",
        ],
    ),
    (
        "override with a bad value",
        "  prod: {}",
        "  prod:\n    overrides:\n      TxRatio: {threshold: 2}",
        [
            "spec.yaml:8:28: environments.prod.overrides.TxRatio.threshold: Input should be less than or equal to 1 [prod]"
        ],
    ),
    (
        "several errors at once",
        '    threshold: 5\n    for: "1m"',
        '    threshold: -1\n    for: "soon"',
        [
            "spec.yaml:31:16: alerts[0].threshold: Input should be greater than or equal to 0",
            "spec.yaml:32:10: alerts[0].for: 'soon' is not a Prometheus duration (like 30s, 5m, 1h30m, 1w)",
        ],
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_message(old: str, new: str, expected: list[str]) -> None:
    text = minimal_text()
    assert old in text, "test case no longer matches the minimal spec"
    with pytest.raises(SpecErrors) as err:
        build_text(text.replace(old, new, 1), "spec.yaml")
    assert [str(e) for e in err.value.errors] == expected


def test_minimal_spec_is_valid() -> None:
    files = build_text(minimal_text(), "spec.yaml")
    assert sorted(f for f in files if "/grafana/" not in f) == [
        "docs/alerts.md",
        "docs/routing.md",
        "prod/alertmanager/alertmanager.yml",
        "prod/expectations.json",
        "prod/prometheus/billing.rules.yml",
        "prod/tests/TxFailing.promtool-test.yaml",
        "prod/tests/TxRatio.promtool-test.yaml",
    ]


def test_cli_reports_all_errors_exits_2_and_leaves_output(tmp_path: Path) -> None:
    spec = tmp_path / "thresholds.yaml"
    spec.write_text(minimal_text())
    out = tmp_path / "output"
    assert run_cli("generate", "--spec", str(spec), "--output", str(out)).returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    spec.write_text(minimal_text().replace("threshold: 5", "threshold: -1").replace('"5m"', '"5 min"', 1))
    result = run_cli("generate", "--spec", str(spec), "--output", str(out))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{spec}:30:13: alerts[0].window:" in result.stderr
    assert f"{spec}:31:16: alerts[0].threshold:" in result.stderr
    assert "2 error(s); nothing was written" in result.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_cli_json_errors(tmp_path: Path) -> None:
    spec = tmp_path / "t.yaml"
    spec.write_text(minimal_text().replace("threshold: 5", "threshold: -1"))
    result = run_cli("validate", "--spec", str(spec), "--format", "json")
    assert result.returncode == 2
    import json

    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    assert payload["errors"][0]["line"] == 31 and payload["errors"][0]["path"] == "alerts[0].threshold"


def test_missing_spec_file_is_bad_input(tmp_path: Path) -> None:
    result = run_cli("validate", "--spec", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "cannot read spec" in result.stderr and "Traceback" not in result.stderr


EXAMPLE_CASES: list[tuple[str, str, list[str]]] = [
    (
        "malformed series values",
        """    examples:
      - input_series:
          - series: 'tx_total{status="failed", network="polygon"}'
            values: "0+1x 5"
        expect:
          - {at: "5m", firing: []}
""",
        [
            "spec.yaml:39:21: alerts[0].examples[0].input_series[0].values: '0+1x' is not promtool series notation (like 1, _, 0+1x10, 5-1x3, _x4)"
        ],
    ),
    (
        "malformed series",
        """    examples:
      - input_series:
          - series: 'tx_total{status=failed}'
            values: "0"
        expect:
          - {at: "5m", firing: []}
""",
        [
            "spec.yaml:38:21: alerts[0].examples[0].input_series[0].series: cannot read the labels of 'tx_total{status=failed}'"
        ],
    ),
    (
        "expectation names an unknown alert",
        """    examples:
      - input_series:
          - series: 'tx_total{status="failed", network="polygon"}'
            values: "0+1x10"
        expect:
          - {at: "5m", alert: "TxFail", firing: []}
""",
        ["spec.yaml:41:31: alerts[0].examples[0].expect[0].alert: unknown alert: 'TxFail'"],
    ),
    (
        "expectation the thresholds contradict",
        """    examples:
      - input_series:
          - series: 'tx_total{status="failed", network="polygon"}'
            values: "0+1x10"
        expect:
          - {at: "8m", firing: [{network: "polygon"}]}
""",
        [
            "spec.yaml:41:13: alerts[0].examples[0].expect[0]: at 8m the thresholds make nothing fire, "
            'but the example expects {network="polygon"}'
        ],
    ),
]


@pytest.mark.parametrize(("block", "expected"), [c[1:] for c in EXAMPLE_CASES], ids=[c[0] for c in EXAMPLE_CASES])
def test_bad_examples(block: str, expected: list[str]) -> None:
    anchor = '    summary: "More than [[ threshold ]] failed"\n'
    text = minimal_text().replace(anchor, anchor + block, 1)
    with pytest.raises(SpecErrors) as err:
        build_text(text, "spec.yaml")
    assert [str(e) for e in err.value.errors] == expected


ROUTING_CASES: list[tuple[str, str, str, list[str]]] = [
    (
        "route to an unknown receiver",
        "  critical: {}",
        '  critical: {route_to: "pager"}',
        [
            "spec.yaml:10:24: severities.critical.route_to: critical alerts route to receiver 'pager', "
            "which team 'billing' does not declare (it has: none)"
        ],
    ),
    (
        "inhibit rule naming an unknown alert and label",
        "label_sets:",
        'alertmanager:\n  inhibit_rules:\n    - {name: "x", source: {alertname: "TxFail"}, target: {state: "warning"}}\n'
        "label_sets:",
        [
            "spec.yaml:14:27: alertmanager.inhibit_rules[0].source: inhibit rule 'x': no alert in prod matches its source",
            "spec.yaml:14:39: alertmanager.inhibit_rules[0].source.alertname: unknown alert 'TxFail'",
            "spec.yaml:14:59: alertmanager.inhibit_rules[0].target.state: no alert carries label 'state'",
        ],
    ),
    (
        "duplicate receiver names",
        "teams:\n  billing: {}",
        'teams:\n  billing: {}\n  a-b:\n    receivers: {c: {webhook: {url: "https://h.example/1"}}}\n'
        '  a:\n    receivers: {b-c: {webhook: {url: "https://h.example/2"}}}',
        ["spec.yaml:12:17: teams.a.receivers.b-c: duplicate receiver name 'a-b-c'"],
    ),
    (
        "inline secret",
        "teams:\n  billing: {}",
        'teams:\n  billing:\n    receivers:\n      pager: {pagerduty: {routing_key: "0123456789abcdef"}}',
        [
            "spec.yaml:10:26: teams.billing.receivers.pager.pagerduty: inline secret 'routing_key': secrets never go "
            "into generated files; store it in a file mounted into Alertmanager and set 'routing_key_file'"
        ],
    ),
    (
        "secret in a webhook URL",
        "teams:\n  billing: {}",
        'teams:\n  billing:\n    receivers:\n      chat: {webhook: {url: "https://hooks.example.com/x?token=abc"}}',
        [
            "spec.yaml:10:29: teams.billing.receivers.chat.webhook.url: inline secret: the webhook URL carries a "
            "token in its query; use credentials_file"
        ],
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), [c[1:] for c in ROUTING_CASES], ids=[c[0] for c in ROUTING_CASES])
def test_bad_routing(old: str, new: str, expected: list[str]) -> None:
    text = minimal_text()
    assert old in text
    with pytest.raises(SpecErrors) as err:
        build_text(text.replace(old, new, 1), "spec.yaml", tests=False)
    assert [str(e) for e in err.value.errors] == expected


def test_no_secret_or_inline_credential_in_output() -> None:
    from conftest import OUTPUT

    text = "".join(p.read_text() for p in OUTPUT.rglob("*") if p.is_file())
    assert "routing_key_file" in text
    for needle in ("routing_key: ", "api_url: ", "hooks.slack.com", "password", "?token="):
        assert needle not in text
