"""Absence guards derived from the spec: one per metric the catalog declares
`always_present` and paging alerts read, scoped by where they look (not by what they
count), following its alerts per environment, muted under the metric's absent alert."""

from __future__ import annotations

import pytest

from conftest import SPEC
from rulesgen.errors import SpecErrors
from rulesgen.kinds.absence_guard import AbsenceGuardAlert
from rulesgen.pipeline import compile_spec
from rulesgen.spec.models import SetRef
from rulesgen.spec.validate import parse_spec

GUARD = "BillingTransactionsTotalMissingPerNetwork"
DECLARED = "    always_present: true\n"
STAGING = "    overrides:\n"


def _guards(text: str) -> list[AbsenceGuardAlert]:
    return [a for a in parse_spec(text, "spec.yaml").alerts if isinstance(a, AbsenceGuardAlert)]


def test_paging_alerts_of_one_scope_share_one_guard_scoped_by_network_not_status() -> None:
    (guard,) = _guards(SPEC.read_text())
    assert guard.name == GUARD and guard.metric == "billing_transactions_total"
    # status="failed" picks what the alerts count: a network with no failures is healthy.
    assert guard.matchers == {"network": SetRef(set="mainnet_networks")}
    assert guard.guards == [
        "BillingTransactionsFailing",
        "BillingTransactionFailureRatioHigh",
        "BillingTransactionsErrorBudgetBurn",
    ]
    assert (guard.team, guard.severity) == ("billing", "critical")


def test_no_guard_unless_the_catalog_says_the_series_are_always_there() -> None:
    text = SPEC.read_text()
    assert DECLARED in text
    assert _guards(text.replace(DECLARED, "")) == []


def test_the_guard_waits_as_long_as_the_absent_alert_that_mutes_it() -> None:
    text = SPEC.read_text()
    absent = '    for: "10m"\n    severity: "critical"\n    team: "billing"\n    summary: "No billing transaction'
    assert text.count(absent) == 1
    (guard,) = _guards(text.replace(absent, absent.replace('"10m"', '"25m"')))
    assert str(guard.for_) == "25m"


def test_a_spec_alert_of_the_guards_name_takes_its_place() -> None:
    own = f"""  - name: "{GUARD}"
    kind: "absence_guard"
    metric: "billing_transactions_total"
    matchers: {{network: "polygon"}}
    for: "30m"
    severity: "warning"
    team: "billing"
    summary: "mine"
"""
    text = SPEC.read_text().replace("alerts:\n", "alerts:\n" + own, 1)
    (guard,) = _guards(text)
    assert (guard.matchers, str(guard.for_)) == ({"network": "polygon"}, "30m")


def test_the_guard_leaves_an_environment_where_its_alerts_do_not_page() -> None:
    text = SPEC.read_text()
    # Staging overrides the first two already; the burn rate gets an override of its own.
    for name in ("BillingTransactionsFailing", "BillingTransactionFailureRatioHigh"):
        overridden = f"      {name}:\n"
        assert text.count(overridden) == 1
        text = text.replace(overridden, overridden + '        severity: "warning"\n')
    text = text.replace(STAGING, STAGING + '      BillingTransactionsErrorBudgetBurn:\n        severity: "warning"\n')
    program = compile_spec(parse_spec(text, "spec.yaml"), tests=False)
    assert GUARD in {a.name for a in program.env("prod").alerts}
    assert GUARD not in {a.name for a in program.env("staging").alerts}


def test_the_absent_alert_of_the_whole_metric_mutes_the_guard() -> None:
    program = compile_spec(parse_spec(SPEC.read_text(), "spec.yaml"), tests=False)
    for env in program.envs:
        assert env.alertmanager is not None
        (rule,) = [r for r in env.alertmanager.inhibit_rules if r.target == (f'alertname="{GUARD}"',)]
        assert rule.source == ('alertname="BillingMetricsAbsent"',) and rule.equal == ("env",)


@pytest.mark.parametrize(
    ("value", "needle"),
    [('"yes"', "Input should be a valid boolean"), ("true", "always_present is for counters and gauges")],
)
def test_always_present_is_checked_where_it_is_written(value: str, needle: str) -> None:
    declared = '  http_request_duration_seconds:\n    type: "histogram"\n'
    text = SPEC.read_text()
    assert declared in text
    text = text.replace(declared, declared + f"    always_present: {value}\n")
    line = text.index(declared) + len(declared)
    line = text[:line].count("\n") + 1
    with pytest.raises(SpecErrors) as raised:
        parse_spec(text, "spec.yaml")
    (error,) = raised.value.errors
    assert (error.line, error.column) == (line, 21) and needle in error.message, error
