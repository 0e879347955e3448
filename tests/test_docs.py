"""The docs target's alert catalog, `docs/alerts.md`, read back from the shipped output."""

from __future__ import annotations

from conftest import OUTPUT, SPEC
from rulesgen.explain import explain, render_text
from rulesgen.ir import Selector, TestSuite
from rulesgen.lower.wording import named
from rulesgen.pipeline import build, compile_spec
from rulesgen.promql import Matcher
from rulesgen.spec.validate import load_spec


def rows(env: str) -> list[list[str]]:
    """The catalog table of `env`, each row split into cells (escaped pipes kept)."""
    text = (OUTPUT / "docs" / "alerts.md").read_text()
    section = text.split(f"\n## {env}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| alert |")]
    return [[cell.strip() for cell in line.replace("\\|", "\x00").split("|")[1:-1]] for line in lines]


def test_catalog_is_what_generate_writes() -> None:
    assert build(SPEC)["docs/alerts.md"] == (OUTPUT / "docs" / "alerts.md").read_bytes()


def test_catalog_lists_each_environment_with_its_own_numbers_and_receivers() -> None:
    prod = {r[0]: r for r in rows("prod")}
    staging = {r[0]: r for r in rows("staging")}
    # Staging overrides the backlog threshold and sends critical alerts to chat.
    assert prod["BillingPendingBacklog"][3] == "threshold > 20"
    assert staging["BillingPendingBacklog"][3] == "threshold > 50"
    assert prod["BillingTransactionsFailing"][6] == "`billing-pager`"
    assert staging["BillingTransactionsFailing"][6] == "`billing-chat`"
    assert staging["BillingTransactionsFailing"][4] == "3m"
    # Disabled in staging: not in its catalog.
    assert "BillingSubscriptionChurnHigh" in prod and "BillingSubscriptionChurnHigh" not in staging
    assert (
        "[runbook](https://runbooks.example.com/rulesgen/billing-pending-backlog)" in prod["BillingPendingBacklog"][7]
    )
    assert "viewPanel=" in prod["BillingPendingBacklog"][7]


def test_catalog_has_a_row_per_burn_rate_tier_and_escapes_pipes() -> None:
    burn = [r for r in rows("prod") if r[0] == "BillingTransactionsErrorBudgetBurn"]
    # The factors as the spec writes them (the default tiers), not the error ratios
    # 14.4 x the 1% budget = 0.144 that the PromQL compares.
    assert [r[3] for r in burn] == [f"tiers[{i}].factor > {v}" for i, v in enumerate(("14.4", "6", "3", "1"))]
    assert "over 1h > 0.144 and" in burn[0][2]
    assert [r[5] for r in burn] == ["critical", "critical", "warning", "warning"]
    # Eight cells in every row: the regex matcher's `|` did not split one.
    assert {len(r) for r in rows("prod") + rows("staging")} == {8}
    failing = next(r for r in rows("prod") if r[0] == "BillingTransactionsFailing")
    assert 'network=~"arbitrum\x00polygon"' in failing[2]


# The ratio's numerator and denominator, as its readers filter them (escaped pipes kept as \x00).
FAILED = 'billing_transactions_total{network=~"arbitrum\x00polygon",status="failed"}'
ALL = 'billing_transactions_total{network=~"arbitrum\x00polygon",status=~"failed\x00succeeded"}'


def test_catalog_words_keep_each_side_of_a_ratio_and_thresholds_as_written() -> None:
    prod = {r[0]: r for r in rows("prod")}
    staging = {r[0]: r for r in rows("staging")}
    assert prod["BillingTransactionFailureRatioHigh"][2].startswith(f"rate of {FAILED} / rate of {ALL} over 5m")
    burn = next(r for r in rows("prod") if r[0] == "BillingTransactionsErrorBudgetBurn")
    assert burn[2].startswith(f"rate of {FAILED} / rate of {ALL} over 1h > 0.144")
    # A regression of 0.2 (20%) compares the ratio 1.2; the floor is written as a duration.
    assert prod["ApiLatencyRegression"][3] == "threshold > 0.2, floor > 100ms"
    assert staging["ApiLatencyRegression"][3] == "threshold > 0.5, floor > 100ms"
    routes = 'route=~"/v1/nodes\x00/v1/notifications"'
    assert f"p95 of http_request_duration_seconds{{{routes}}} over 5m" in prod["ApiLatencyRegression"][2]


def test_explain_words_an_alert_as_the_catalog_does() -> None:
    program = compile_spec(load_spec(SPEC), tests=False)
    burn = render_text(explain(program, TestSuite(), "BillingTransactionsErrorBudgetBurn", ["prod"]))
    assert "  critical: tiers[0].factor > 14.4; for 2m" in burn
    assert "  warning: tiers[3].factor > 1; for 3h" in burn
    unescaped = (FAILED.replace("\x00", "|"), ALL.replace("\x00", "|"))
    assert f"fires when: rate of {unescaped[0]} / rate of {unescaped[1]} over 1h > 0.144" in burn
    latency = render_text(explain(program, TestSuite(), "ApiLatencyRegression", ["staging"]))
    assert "  warning: threshold > 0.5, floor > 100ms; for 10m" in latency
    data = explain(program, TestSuite(), "ApiLatencyRegression", ["prod"])
    (rule,) = data["environments"]["prod"]["rules"]
    assert [(t["param"], t["value"], t["written"]) for t in rule["thresholds"]] == [
        ("threshold", 1.2, "0.2"),
        ("floor", 0.1, "100ms"),
    ]


def test_words_name_each_read_only_when_they_name_every_read_in_order() -> None:
    a, b = Selector("x", (Matcher("s", ("a",)),)), Selector("x", (Matcher("s", ("b",)),))
    assert named("rate of x / rate of x over 5m", (a, b)) == 'rate of x{s="a"} / rate of x{s="b"} over 5m'
    # Already spelled, or naming one of two reads of one metric (which one?): as written.
    assert named('events of x{s="a"} in 5m', (a,)) == 'events of x{s="a"} in 5m'
    assert named("events of x in 5m", (a, b)) == "events of x in 5m"
    # A recording rule's name holding the metric's is not the metric.
    assert named("level:x:rate5m of x", (a,)) == 'level:x:rate5m of x{s="a"}'
