"""The docs target's alert catalog, `docs/alerts.md`, read back from the shipped output."""

from __future__ import annotations

from conftest import OUTPUT, SPEC
from rulesgen.pipeline import build


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
    assert [r[3] for r in burn] == [f"tiers[{i}].factor > {v}" for i, v in enumerate(("0.144", "0.06", "0.03", "0.01"))]
    assert [r[5] for r in burn] == ["critical", "critical", "warning", "warning"]
    # Eight cells in every row: the regex matcher's `|` did not split one.
    assert {len(r) for r in rows("prod") + rows("staging")} == {8}
    failing = next(r for r in rows("prod") if r[0] == "BillingTransactionsFailing")
    assert 'network=~"arbitrum\x00polygon"' in failing[2]
