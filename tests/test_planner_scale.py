"""Planning stays linear in the number of alerts: the excluded traffic a scenario
carries does not grow with the values other alerts name on the same label."""

from __future__ import annotations

from conftest import SPEC
from rulesgen.lower.alerts import AlertCompiler
from rulesgen.spec.validate import load_spec
from rulesgen.testgen.planner import named_values, plan_scenarios
from rulesgen.testgen.simulation import Plan

ALERT = "BillingTransactionsFailing"  # failed transactions per mainnet: matches network and status
METRIC = "billing_transactions_total"


def _breach(extra_statuses: int) -> Plan:
    doc = load_spec(SPEC)
    resolve = AlertCompiler(doc).resolve
    models = [alert for alert in doc.alerts if alert.enabled]
    elsewhere = dict(named_values(models, resolve))
    # As if `extra_statuses` more alerts each named a status of their own on the metric.
    elsewhere[(METRIC, "status")] = (
        *elsewhere[(METRIC, "status")],
        *(f"status-{i:03}" for i in range(extra_statuses)),
    )
    metric_labels = {name: metric.labels for name, metric in doc.header.metrics.items()}
    alert = next(a for a in models if a.name == ALERT)
    plans = plan_scenarios(alert, resolve, doc.header.label_sets, metric_labels, elsewhere)
    return next(plan for plan in plans if plan.name == "breach")


def _label_values(plan: Plan, label: str) -> set[str]:
    return {value for series in plan.series for key, value in series.labels if key == label}


def test_excluded_traffic_does_not_grow_with_the_values_other_alerts_name() -> None:
    few, many = _breach(0), _breach(200)
    assert many == few
    # failed (in scope), succeeded (another alert names it), other-status (nobody does)
    assert _label_values(many, "status") == {"failed", "succeeded", "other-status"}


def test_excluded_traffic_copies_only_the_scenarios_own_series() -> None:
    """Each excluded value (network=polygon-amoy, status=succeeded, status=other-status)
    copies the in-scope series once (both mainnets land on one testnet series), never a
    copy of another excluded value's copy."""
    breach = _breach(0)
    excluded = (("network", "polygon-amoy"), ("status", "succeeded"), ("status", "other-status"))
    in_scope = [s for s in breach.series if not any(e in s.labels for e in excluded)]
    copies = {e: [s for s in breach.series if e in s.labels] for e in excluded}
    assert all(0 < len(found) <= len(in_scope) for found in copies.values()), copies
    assert len(breach.series) == len(in_scope) + sum(map(len, copies.values()))
