"""`rulesgen diff`: a table of spec edits, each with the diff entries it must produce
(asserted on the JSON structure), golden text and Markdown snippets, and the CLI
against a git ref in a temporary repository."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from conftest import SPEC, run_cli
from rulesgen.diff import as_data, diff_programs, render_markdown, render_text
from rulesgen.ir import ProgramIR
from rulesgen.pipeline import compile_document
from rulesgen.spec.validate import parse_spec

BASE = SPEC.read_text()
BACKLOG_20 = '    threshold: 20\n    for: "10m"\n'  # BillingPendingBacklog's prod threshold


def backlog(threshold: int) -> Callable[[str], str]:
    return edit(BACKLOG_20, BACKLOG_20.replace("20", str(threshold)))


@cache
def program(text: str) -> ProgramIR:
    return compile_document(parse_spec(text, "thresholds.yaml"), tests=False).program


def edit(old: str, new: str, count: int = 1) -> Callable[[str], str]:
    """An edit of the shipped spec: `old` must occur exactly `count` times."""

    def apply(text: str) -> str:
        assert text.count(old) == count, f"{old!r} occurs {text.count(old)} times"
        return text.replace(old, new)

    return apply


def alert_block(name: str) -> Callable[[str], str]:
    """Removes the alert `name` (its block up to the next alert or comment line)."""

    def apply(text: str) -> str:
        start = text.index(f'  - name: "{name}"')
        ends = [i for i in (text.find("\n  - name:", start + 1), text.find("\n  # ---", start + 1)) if i != -1]
        return text[:start] + text[min(ends) + 1 :] if ends else text[:start]

    return apply


def both(*edits: Callable[[str], str]) -> Callable[[str], str]:
    def apply(text: str) -> str:
        for one in edits:
            text = one(text)
        return text

    return apply


Entry = tuple[str, str, str, str | None, str | None, str]  # env, alert, field, old, new, meaning


@dataclass(frozen=True)
class Case:
    name: str
    change: Callable[[str], str]
    # Every changed alert field, exactly (unchanged context rows are checked separately).
    alerts: set[Entry]
    statuses: dict[tuple[str, str], str] = field(default_factory=dict)  # (env, alert) -> added, removed, ...
    unchanged: set[tuple[str, str, str, str]] = field(default_factory=set)  # env, alert, field, value
    records: set[tuple[str, str, str | None]] = field(default_factory=set)  # env, record, status, old name
    panels: set[tuple[str, str, str]] = field(default_factory=set)  # env, panel, field
    routing: set[tuple[str, str, str]] = field(default_factory=set)  # env, part, name
    env_changes: set[tuple[str, str]] = field(default_factory=set)  # env, field


NEW_ALERT = """
  - name: "BillingContractEventsBurst"
    kind: "counter_increase"
    metric: "billing_contract_events_total"
    matchers: {status: "failed"}
    by: ["chain_id", "event"]
    window: "5m"
    threshold: 10
    for: "2m"
    severity: "critical"
    team: "billing"
    summary: "Contract events fail in bursts[[ scope ]]."
"""

OVERVIEW = {"prod": "Alerts overview (prod)", "staging": "Alerts overview (staging)"}

CASES = [
    Case(
        "threshold up, >",
        backlog(30),
        {("prod", "BillingPendingBacklog", "threshold", "> 20", "> 30", "pages later")},
        unchanged={("staging", "BillingPendingBacklog", "threshold", "> 50")},
        panels={("prod", "BillingPendingBacklog", "thresholds")},
    ),
    Case(
        "threshold down, >",
        backlog(10),
        {("prod", "BillingPendingBacklog", "threshold", "> 20", "> 10", "pages sooner")},
        unchanged={("staging", "BillingPendingBacklog", "threshold", "> 50")},
        panels={("prod", "BillingPendingBacklog", "thresholds")},
    ),
    Case(
        "threshold up, <",
        edit("threshold: 0.85\n", "threshold: 0.9\n"),
        {(env, "NodeCacheHitRatioLow", "threshold", "< 0.85", "< 0.9", "pages sooner") for env in ("prod", "staging")},
        panels={(env, "NodeCacheHitRatioLow", "thresholds") for env in ("prod", "staging")},
    ),
    Case(
        "threshold down, <",
        edit("threshold: 0.85\n", "threshold: 0.8\n"),
        {(env, "NodeCacheHitRatioLow", "threshold", "< 0.85", "< 0.8", "pages later") for env in ("prod", "staging")},
        panels={(env, "NodeCacheHitRatioLow", "thresholds") for env in ("prod", "staging")},
    ),
    Case(
        "for longer",
        edit('    threshold: 0.6\n    for: "5m"', '    threshold: 0.6\n    for: "15m"'),
        {(env, "RedisMemoryHigh", "for", "5m", "15m", "pages later") for env in ("prod", "staging")},
    ),
    Case(
        "latency floor, its own line",
        edit('floor: "100ms"', 'floor: "200ms"'),
        {(env, "ApiLatencyRegression", "floor", "> 0.1", "> 0.2", "pages later") for env in ("prod", "staging")},
    ),
    Case(
        # Staging sends critical to chat: the severity changes there, its receiver does not.
        "severity warning -> critical",
        edit(
            '    threshold: 20\n    for: "10m"\n    severity: "warning"',
            '    threshold: 20\n    for: "10m"\n    severity: "critical"',
        ),
        {
            ("prod", "BillingPendingBacklog", "severity", "warning", "critical", ""),
            ("prod", "BillingPendingBacklog", "receiver", "billing-chat", "billing-pager", "notifies another receiver"),
            ("staging", "BillingPendingBacklog", "severity", "warning", "critical", ""),
        },
        unchanged={("staging", "BillingPendingBacklog", "receiver", "billing-chat")},
        panels={(env, "BillingPendingBacklog", "description") for env in ("prod", "staging")},
    ),
    Case(
        "disabled in one environment",
        edit(
            "      BillingPendingBacklog:\n        threshold: 50\n",
            "      BillingPendingBacklog:\n        enabled: false\n",
        ),
        set(),
        statuses={("staging", "BillingPendingBacklog"): "disabled", ("prod", "BillingPendingBacklog"): "unchanged"},
        panels={("staging", "BillingPendingBacklog", "panel")},
    ),
    Case(
        "alert added",
        lambda text: text + NEW_ALERT,
        set(),
        statuses={(env, "BillingContractEventsBurst"): "added" for env in ("prod", "staging")},
        records={
            (env, "chain_id_event_status:billing_contract_events:increase5m", "added") for env in ("prod", "staging")
        },
        panels={(env, "BillingContractEventsBurst", "panel") for env in ("prod", "staging")},
    ),
    Case(
        "alert removed",
        alert_block("RedisMemoryHigh"),
        set(),
        statuses={(env, "RedisMemoryHigh"): "removed" for env in ("prod", "staging")},
        records={(env, "instance:redis_memory_utilisation:ratio", "removed") for env in ("prod", "staging")},
        panels={(env, "RedisMemoryHigh", "panel") for env in ("prod", "staging")},
    ),
    Case(
        # A new window renames the recording rule; the summary's numbers follow it silently.
        "window",
        edit('window: "10m"', 'window: "15m"'),
        {(env, "BillingContractEventsFailing", "window", "10m", "15m", "") for env in ("prod", "staging")},
        records={
            (env, f"chain_id_event_status:billing_contract_events:increase{w}", s)
            for env in ("prod", "staging")
            for w, s in (("10m", "removed"), ("15m", "added"))
        },
        panels={(env, "BillingContractEventsFailing", "queries") for env in ("prod", "staging")},
    ),
    Case(
        "quantity renamed: same expression, new name",
        edit('quantity: "billing_transactions_failure"', 'quantity: "billing_tx_failure"'),
        set(),
        records={(env, "network:billing_tx_failure:ratio_rate5m", "renamed") for env in ("prod", "staging")},
        panels={(env, "BillingTransactionFailureRatioHigh", "queries") for env in ("prod", "staging")},
    ),
    Case(
        "alert label added",
        edit(
            '    threshold: 0.6\n    for: "5m"', '    threshold: 0.6\n    labels: {component: "redis"}\n    for: "5m"'
        ),
        {(env, "RedisMemoryHigh", "label component", None, "redis", "new field") for env in ("prod", "staging")},
    ),
    Case(
        # Every staging alert carries the label: one line for the environment, none per alert.
        "environment label changed",
        edit('cluster: "staging"', 'cluster: "staging-eu"'),
        set(),
        env_changes={("staging", "labels")},
    ),
    Case(
        "summary reworded",
        edit("check RPC and the billing.contracts worker.", "check RPC first."),
        {
            (
                env,
                "BillingPendingBacklog",
                "annotation summary",
                f"More than {n} billing transactions pending on network {{{{ $labels.network }}}}: check RPC and the billing.contracts worker.",
                f"More than {n} billing transactions pending on network {{{{ $labels.network }}}}: check RPC first.",
                "",
            )
            for env, n in (("prod", 20), ("staging", 50))
        },
    ),
    Case(
        # Each tier is its own line; the annotations quoting the objective follow silently.
        "burn-rate objective",
        edit("objective: 0.99\n", "objective: 0.995\n"),
        {
            (env, "BillingTransactionsErrorBudgetBurn", f"tiers[{i}].factor", f"> {old}", f"> {new}", "pages sooner")
            for env in ("prod", "staging")
            for i, (old, new) in enumerate((("0.144", "0.072"), ("0.06", "0.03"), ("0.03", "0.015"), ("0.01", "0.005")))
        },
        panels={(env, "BillingTransactionsErrorBudgetBurn", "thresholds") for env in ("prod", "staging")},
    ),
    Case(
        "staging pages for critical again",
        edit('routing:\n      critical: "chat"', 'routing:\n      critical: "pager"'),
        {
            ("staging", alert, "receiver", "billing-chat", "billing-pager", "notifies another receiver")
            for alert in (
                "BillingMainnetNetworkFailures",
                "BillingMetricsAbsent",
                "BillingTransactionFailureRatioHigh",
                "BillingTransactionsFailing",
                "BillingTransactionsTotalMissingPerNetwork",
            )
        }
        | {
            (
                "staging",
                "BillingTransactionsErrorBudgetBurn",
                f"tiers[{i}] receiver",
                "billing-chat",
                "billing-pager",
                "notifies another receiver",
            )
            for i in (0, 1)
        },
        unchanged={
            ("prod", "BillingTransactionsFailing", "receiver", "billing-pager"),
            ("prod", "BillingTransactionsErrorBudgetBurn", "tiers[0] receiver", "billing-pager"),
        },
        routing={
            ("staging", "route", 'team="billing", env="staging", severity="critical"'),
            ("staging", "route", 'team="platform", env="staging", severity="critical"'),
        },
    ),
    Case(
        "inhibition changed",
        edit('equal: ["env", "network"]', 'equal: ["env"]'),
        set(),
        routing={(env, "inhibition", "a failing mainnet explains its failure ratio") for env in ("prod", "staging")},
    ),
]


def diff_of(case: Case) -> dict[str, Any]:
    return as_data(diff_programs(program(BASE), program(case.change(BASE))))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_spec_edit_gives_its_diff_entries_and_nothing_else(case: Case) -> None:
    data = diff_of(case)
    assert data["changed"]
    envs = data["environments"]
    changed = {
        (env, a["alert"], c["field"], c["old"], c["new"], c["meaning"])
        for env, e in envs.items()
        for a in e["alerts"]
        if a["status"] == "changed"
        for c in a["changes"]
        if c["meaning"] != "unchanged"
    }
    assert changed == case.alerts
    statuses = {(env, a["alert"]): a["status"] for env, e in envs.items() for a in e["alerts"]}
    for key, status in case.statuses.items():
        assert statuses.get(key) == status, (key, statuses)
    # Only the alerts the edit touched are listed; one unchanged in an environment is
    # listed only because it changed in another.
    touched = {(env, alert) for env, alert, *_ in case.alerts} | set(case.statuses)
    moved = {key for key, status in statuses.items() if status != "unchanged"}
    assert moved <= touched
    assert {alert for _, alert in statuses.keys() - moved} <= {alert for _, alert in moved}
    unchanged = {
        (env, a["alert"], c["field"], c["new"])
        for env, e in envs.items()
        for a in e["alerts"]
        for c in a["changes"]
        if c["old"] == c["new"] and c["meaning"] == "unchanged"
    }
    assert case.unchanged <= unchanged
    records = {(env, r["record"], r["status"]) for env, e in envs.items() for r in e["recording_rules"]}
    assert records == case.records
    panels = {(env, p["panel"], p["field"]) for env, e in envs.items() for p in e["dashboards"]}
    assert panels == case.panels
    assert all(p["dashboard"] == OVERVIEW[env] for env, e in envs.items() for p in e["dashboards"])
    routing = {(env, r["part"], r["name"]) for env, e in envs.items() for r in e["routing"]}
    assert routing == case.routing
    assert {(env, c["field"]) for env, e in envs.items() for c in e["changes"]} == case.env_changes


def test_identical_specs_have_no_changes() -> None:
    diff = diff_programs(program(BASE), program(BASE))
    assert not diff.changed
    assert render_text(diff).splitlines()[-1] == "no changes"
    assert "**no changes**" in render_markdown(diff)
    assert all(not e["alerts"] and e["status"] == "unchanged" for e in as_data(diff)["environments"].values())


def test_renamed_rule_lists_its_old_name_and_readers() -> None:
    case = next(c for c in CASES if c.name.startswith("quantity renamed"))
    rules = diff_of(case)["environments"]["prod"]["recording_rules"]
    assert rules == [
        {
            "record": "network:billing_tx_failure:ratio_rate5m",
            "status": "renamed",
            "old_name": "network:billing_transactions_failure:ratio_rate5m",
            "old_expr": rules[0]["new_expr"],
            "new_expr": rules[0]["old_expr"],
            "alerts": ["BillingTransactionFailureRatioHigh"],
            "panels": ["Alerts overview (prod) / BillingTransactionFailureRatioHigh"],
        }
    ]


def test_removed_rule_is_read_by_the_removed_alert_and_its_panel() -> None:
    case = next(c for c in CASES if c.name == "alert removed")
    (rule,) = diff_of(case)["environments"]["staging"]["recording_rules"]
    assert rule["alerts"] == ["RedisMemoryHigh"]
    assert rule["panels"] == ["Alerts overview (staging) / RedisMemoryHigh"]


def test_added_rule_is_read_by_the_added_alert() -> None:
    case = next(c for c in CASES if c.name == "alert added")
    (rule,) = diff_of(case)["environments"]["prod"]["recording_rules"]
    assert rule["alerts"] == ["BillingContractEventsBurst"]
    # the failed contract events counted exactly over 5m (see CompileContext.counted)
    failed = 'billing_contract_events_total{status="failed"}'
    assert rule["new_expr"] == (
        f"sum by (chain_id, event, status) ((({failed} unless {failed} offset 5m) "
        f"and on(job, instance) (up offset 5m == 1)) or (({failed} - {failed} offset 5m) "
        f"unless resets({failed}[10m]) > 0) or increase({failed}[5m]))"
    )


def test_text_and_markdown_of_a_threshold_change() -> None:
    diff = diff_programs(program(BASE), program(CASES[0].change(BASE)), "HEAD:thresholds.yaml", "thresholds.yaml")
    assert render_text(diff) == "\n".join(
        [
            "rulesgen diff: HEAD:thresholds.yaml -> thresholds.yaml",
            "[prod]",
            "  ~ BillingPendingBacklog threshold: > 20 -> > 30 (pages later)",
            "  ~ dashboard Alerts overview (prod), panel BillingPendingBacklog thresholds: "
            "green, red from 20 -> green, red from 30",
            "[staging]",
            "  = BillingPendingBacklog: unchanged (threshold > 50)",
            "1 alert changed in 1 of 2 environments (prod); 1 dashboard change",
        ]
    )
    markdown = render_markdown(diff)
    assert markdown.startswith(
        "### rulesgen diff\n\n**1 alert changed in 1 of 2 environments (prod); 1 dashboard change**"
    )
    assert "| BillingPendingBacklog | threshold | `> 20` | `> 30` | pages later |" in markdown
    assert "| BillingPendingBacklog | threshold | `> 50` | `> 50` | unchanged |" in markdown
    assert (
        "| Alerts overview (prod) | BillingPendingBacklog | thresholds | `green, red from 20` | `green, red from 30` |"
        in markdown
    )
    assert markdown.count("<details>") == 2 and markdown.count("</details>") == 2
    assert "#### prod" in markdown and "#### staging" in markdown


def test_markdown_escapes_pipes_of_promql_regexes() -> None:
    case = next(c for c in CASES if c.name == "window")
    markdown = render_markdown(diff_programs(program(BASE), program(case.change(BASE))))
    table_rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    # Every row of a five-column table has six unescaped pipes.
    assert all(line.replace("\\|", "").count("|") in (4, 5, 6) for line in table_rows)
    assert '`events of billing_contract_events_total{status="failed"} counted exactly in 15m' in markdown


def test_json_is_deterministic_and_sorted() -> None:
    case = next(c for c in CASES if c.name == "alert added")
    first = json.dumps(diff_of(case), sort_keys=True)
    program.cache_clear()
    assert json.dumps(diff_of(case), sort_keys=True) == first
    alerts = diff_of(case)["environments"]["prod"]["alerts"]
    assert [a["alert"] for a in alerts] == sorted(a["alert"] for a in alerts)


# --- the command line ---------------------------------------------------------------


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True, capture_output=True
    )


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A git repository holding the shipped spec in a subdirectory, committed."""
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "thresholds.yaml").write_text(BASE)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "spec")
    return tmp_path / "alerts"


def test_cli_base_head_after_a_threshold_change(repo: Path) -> None:
    spec = repo / "thresholds.yaml"
    assert run_cli("diff", "--base", "HEAD", cwd=repo).returncode == 0
    same = run_cli("diff", "--base", "HEAD", "--exit-code", cwd=repo)
    assert (same.returncode, same.stdout.splitlines()[-1]) == (0, "no changes"), same.stderr
    spec.write_text(CASES[0].change(BASE))
    result = run_cli("diff", "--base", "HEAD", "--format", "markdown", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "`HEAD:alerts/thresholds.yaml` -> `thresholds.yaml`" in result.stdout
    assert "| BillingPendingBacklog | threshold | `> 20` | `> 30` | pages later |" in result.stdout
    assert run_cli("diff", "--exit-code", cwd=repo).returncode == 1
    data = json.loads(run_cli("diff", "--base", "HEAD", "--format", "json", cwd=repo).stdout)
    assert data["changed"] and data["summary"].startswith("1 alert changed")
    # The work tree is read, never changed.
    assert spec.read_text() == CASES[0].change(BASE)


def test_cli_base_spec_file(tmp_path: Path) -> None:
    (tmp_path / "new.yaml").write_text(CASES[2].change(BASE))
    result = run_cli("diff", "--base-spec", str(SPEC), "--spec", str(tmp_path / "new.yaml"), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["environments"]["staging"]["alerts"][0]["alert"] == "NodeCacheHitRatioLow"


def test_cli_unknown_ref_and_invalid_specs_exit_2(repo: Path) -> None:
    unknown = run_cli("diff", "--base", "no-such-ref", cwd=repo)
    assert unknown.returncode == 2 and "no-such-ref" in unknown.stderr
    spec = repo / "thresholds.yaml"
    spec.write_text(BASE.replace(BACKLOG_20, BACKLOG_20.replace('"10m"', '"soon"')))
    bad = run_cli("diff", "--base", "HEAD", cwd=repo)
    line = BASE[: BASE.index(BACKLOG_20)].count("\n") + 2
    assert bad.returncode == 2
    assert f"thresholds.yaml:{line}:10: alerts[2].for: 'soon' is not a Prometheus duration" in bad.stderr
    # A broken base is reported under its ref, together with the spec's own errors.
    git(repo, "commit", "-q", "-am", "broken")
    both_bad = run_cli("diff", "--base", "HEAD", "--format", "json", cwd=repo)
    assert both_bad.returncode == 2
    files = {e["file"] for e in json.loads(both_bad.stdout)["errors"]}
    assert files == {"HEAD:alerts/thresholds.yaml", "thresholds.yaml"}


def test_cli_outside_git_exits_2(tmp_path: Path) -> None:
    (tmp_path / "thresholds.yaml").write_text(BASE)
    result = run_cli("diff", cwd=tmp_path, env={"GIT_CEILING_DIRECTORIES": str(tmp_path.parent)})
    assert result.returncode == 2 and "not in a git work tree" in result.stderr


@pytest.mark.parametrize("ref", ["--output=PWNED", "-p", "--no-index", ""])
def test_a_ref_that_looks_like_an_option_is_refused_and_writes_nothing(repo: Path, ref: str) -> None:
    result = run_cli("diff", f"--base={ref}", cwd=repo)
    assert (result.returncode, result.stderr) == (2, f"rulesgen: {ref!r} is not a git ref\n")
    assert sorted(p.name for p in repo.iterdir()) == ["thresholds.yaml"]


def test_git_is_told_where_options_end(repo: Path) -> None:
    """Were the ref check bypassed, git would still read `--output=...` as a revision."""
    from rulesgen.diff import BaseNotFound, spec_at_ref

    with pytest.raises(BaseNotFound, match="is not a git ref"):
        spec_at_ref("--output=x", repo / "thresholds.yaml")
    text, name = spec_at_ref("HEAD", repo / "thresholds.yaml")
    assert (text, name) == (BASE, "HEAD:alerts/thresholds.yaml")
