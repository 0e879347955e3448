"""Scenario families are one registry: the core families first, in the order their
scenarios have always been generated, then the production faults. Moving a family,
reordering its registration or selecting it for another kind changes what an alert
of some kind is tested with, which the names below pin down."""

from __future__ import annotations

from functools import cache

import pytest

from conftest import SPEC
from rulesgen.kinds import registry
from rulesgen.lower.alerts import AlertCompiler
from rulesgen.spec.validate import load_spec
from rulesgen.testgen.families import FAMILIES, core, faults
from rulesgen.testgen.planner import named_values, plan_scenarios

# One shipped alert of each kind (the first of it in the spec), and its scenarios in order.
SCENARIOS = {
    "BillingTransactionsFailing": (  # counter_increase
        "healthy breach recovery short_breach one_group_only no_data outside_network outside_status "
        "born_in_window born_5m_after_a_fresh_start fresh_start fresh_breach reset reset_by_one "
        "out_of_step failed_scrapes replica_returns replica_returns_during_breach crash_loop "
        "restart_before_window bursts_out_of_step restarted_while_idle killed_after_failing "
        "new_pod_with_lifetime_totals new_pod_from_zero prometheus_restart exporter_outage "
        "new_metric_family"
    ),
    "BillingTransactionFailureRatioHigh": (  # ratio
        "healthy breach recovery short_breach one_group_only no_data outside_network born_in_window "
        "born_5m_after_a_fresh_start fresh_start fresh_breach reset reset_by_one out_of_step "
        "failed_scrapes replica_returns replica_returns_during_breach crash_loop "
        "restart_before_window bursts_out_of_step restarted_while_idle new_pod_with_lifetime_totals "
        "new_pod_from_zero prometheus_restart exporter_outage new_metric_family"
    ),
    "BillingPendingBacklog": (  # gauge_threshold
        "healthy breach recovery short_breach one_group_only no_data gauge_failed_scrapes "
        "gauge_target_gone gauge_ha_replicas"
    ),
    "BillingTransactionsErrorBudgetBurn": (  # burn_rate
        "healthy breach_page_1h_5m recovery_page_1h_5m short_breach_page_1h_5m breach_page_6h_30m "
        "breach_ticket_1d_2h breach_ticket_3d_6h no_data outside_network born_in_window "
        "born_in_window_arbitrum born_5m_after_a_fresh_start born_30m_after_a_fresh_start "
        "born_1h_after_a_fresh_start born_2h_after_a_fresh_start born_6h_after_a_fresh_start "
        "born_1d_after_a_fresh_start born_3d_after_a_fresh_start fresh_start fresh_breach "
        "fresh_breach_page_6h_30m fresh_breach_ticket_1d_2h fresh_breach_ticket_3d_6h reset "
        "reset_by_one_5m reset_by_one_30m reset_by_one_1h reset_by_one_2h reset_by_one_6h "
        "reset_by_one_1d reset_by_one_3d out_of_step page_1h_5m_crosses_its_limit_exactly "
        "page_6h_30m_crosses_its_limit_exactly ticket_1d_2h_crosses_its_limit_exactly "
        "ticket_3d_6h_crosses_its_limit_exactly page_1h_5m_for_2m_every_1m "
        "born_in_window_page_1h_5m_for_2m_every_1m "
        "born_in_window_arbitrum_page_1h_5m_for_2m_every_1m fresh_breach_page_1h_5m_for_2m_every_1m "
        "reset_by_one_page_1h_5m_for_2m_every_1m page_1h_5m_dips_under_its_short_window_every_1m "
        "page_1h_5m_scrape_outage_every_1m page_6h_30m_for_15m_every_5m "
        "born_in_window_page_6h_30m_for_15m_every_5m "
        "born_in_window_arbitrum_page_6h_30m_for_15m_every_5m "
        "fresh_breach_page_6h_30m_for_15m_every_5m reset_by_one_page_6h_30m_for_15m_every_5m "
        "page_6h_30m_dips_under_its_short_window_every_5m page_6h_30m_scrape_outage_every_5m "
        "ticket_1d_2h_for_1h_every_30m born_in_window_ticket_1d_2h_for_1h_every_30m "
        "born_in_window_arbitrum_ticket_1d_2h_for_1h_every_30m "
        "fresh_breach_ticket_1d_2h_for_1h_every_30m reset_by_one_ticket_1d_2h_for_1h_every_30m "
        "ticket_1d_2h_dips_under_its_short_window_every_30m ticket_1d_2h_scrape_outage_every_30m "
        "ticket_3d_6h_dips_under_its_short_window_every_1h ticket_3d_6h_scrape_outage_every_1h "
        "failed_scrapes replica_returns replica_returns_during_breach "
        "replica_returns_at_edge_page_1h_5m_for_2m_every_1m replica_returns_at_edge_page_6h_30m_for_15m_every_5m "
        "replica_returns_at_edge_ticket_1d_2h_for_1h_every_30m crash_loop "
        "restart_before_window bursts_out_of_step restarted_while_idle new_pod_with_lifetime_totals "
        "new_pod_from_zero prometheus_restart exporter_outage new_metric_family"
    ),
    "BillingMetricsAbsent": (  # absent
        "healthy breach recovery short_breach no_data"
    ),
    "BillingUnknownNetwork": (  # present
        "healthy breach recovery short_breach one_group_only no_data outside_network_polygon "
        "outside_network_arbitrum outside_network_polygon_amoy outside_network_arbitrum_sepolia"
    ),
    "ApiLatencyRegression": (  # latency_regression
        "healthy breach recovery short_breach one_group_only no_data outside_route fresh_deploy "
        "one_of_two_instances_slow_now one_instance_barely_slow_a_week_ago rolled_out_a_week_ago "
        "just_short_of_then_past_the_regression just_under_then_over_the_floor "
        "exactly_at_then_past_the_regression exactly_at_then_over_the_floor "
        "regression_for_10m_every_5m minute_bursts below_floor one_instance_barely_slow_now "
        "one_of_two_instances_slow_a_week_ago rolled_out_now zero_baseline"
    ),
    "RedisMemoryHigh": (  # gauge_ratio
        "healthy breach recovery short_breach one_group_only no_data gauge_failed_scrapes gauge_target_gone"
    ),
    "BillingTransactionsTotalMissingPerNetwork": (  # absence_guard
        "healthy breach recovery short_breach one_group_only no_data outside_network "
        "scope_gone_while_others_remain metric_renamed absence_failed_scrapes absence_pod_replaced"
    ),
}


def test_family_names_are_unique_and_the_core_families_come_first() -> None:
    names = [f.name for f in FAMILIES]
    assert len(names) == len(set(names)), names
    modules = [f.build.__module__ for f in FAMILIES]
    assert set(modules) == {core.__name__, faults.__name__}
    # Every core family before every fault family: the scenario order of today's tests.
    assert modules == sorted(modules, key=[core.__name__, faults.__name__].index), modules


@cache
def _plans_by_alert() -> dict[str, tuple[str, list[str]]]:
    doc = load_spec(SPEC)
    resolve = AlertCompiler(doc).resolve
    models = [alert for alert in doc.alerts if alert.enabled]
    elsewhere = named_values(models, resolve)
    metric_labels = {name: metric.labels for name, metric in doc.header.metrics.items()}
    out = {}
    for alert in models:
        if alert.name in SCENARIOS:
            plans = plan_scenarios(alert, resolve, doc.header.label_sets, metric_labels, elsewhere)
            out[alert.name] = (alert.kind, [plan.name for plan in plans])
    return out


def test_one_alert_of_every_kind_is_pinned() -> None:
    assert sorted(kind for kind, _ in _plans_by_alert().values()) == sorted(registry())


@pytest.mark.parametrize("alert", sorted(SCENARIOS))
def test_each_kind_plans_the_scenarios_it_always_had_in_order(alert: str) -> None:
    _, names = _plans_by_alert()[alert]
    assert names == SCENARIOS[alert].split()
