"""The mutation report as text and as JSON."""

from __future__ import annotations

from typing import Any

from rulesgen.mutate.run import MutationReport


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def format_mutations(report: MutationReport) -> str:
    """Per alert: mutants, killed, survived, equivalent and score; then every survivor."""
    lines = [f"{'env':<10} {'alert':<40} {'mutants':>7} {'killed':>6} {'survived':>8} {'equiv':>5} {'score':>7}"]
    for a in report.alerts:
        lines.append(
            f"{a.env:<10} {a.alert:<40} {len(a.mutants):>7} {a.count('killed'):>6} {a.count('survived'):>8}"
            f" {a.count('equivalent'):>5} {_pct(a.score):>7}"
        )
    for env in report.envs:
        lines.append(f"\n{env}: mutation score {_pct(report.env_score(env))}")
    for a in report.alerts:
        if not a.baseline_ok:
            lines.append(
                f"\n--- {a.env}/{a.alert}: its tests fail on the unmutated rules; fix that first:\n{a.baseline_output}"
            )
        survivors = [m for m in a.mutants if m.status in ("survived", "error")]
        if survivors:
            lines.append(f"\n--- {a.env}/{a.alert}: {len(survivors)} survivor(s)")
        for m in survivors:
            lines.append(f"  {m.operator} in {m.rule} ({m.field}): {m.explanation}")
            lines.append(f"      {m.before or '(none)'}")
            lines.append(f"   -> {m.after or '(none)'}")
    return "\n".join(lines)


def mutations_json(report: MutationReport) -> dict[str, Any]:
    """The report for CI; every mutant with its status, survivors first per alert."""
    order = {"survived": 0, "error": 1, "killed": 2, "equivalent": 3, "invalid": 4}
    return {
        "ok": report.baseline_ok,
        "envs": {env: {"score": report.env_score(env)} for env in report.envs},
        "alerts": [
            {
                "env": a.env,
                "alert": a.alert,
                "baseline_ok": a.baseline_ok,
                "mutants": len(a.mutants),
                "killed": a.count("killed"),
                "survived": a.count("survived"),
                "equivalent": a.count("equivalent"),
                "invalid": a.count("invalid"),
                "errors": a.count("error"),
                "score": a.score,
                "details": [
                    {
                        "operator": m.operator,
                        "rule": m.rule,
                        "field": m.field,
                        "before": m.before,
                        "after": m.after,
                        "status": m.status,
                        "explanation": m.explanation,
                        "killed_by": list(m.killed_by),
                    }
                    for m in sorted(a.mutants, key=lambda m: order.get(m.status, 5))
                ],
            }
            for a in report.alerts
        ],
    }
