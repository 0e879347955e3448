"""A backtest as text, JSON or markdown (HTML lives in `html.py`)."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from rulesgen.backtest.common import iso
from rulesgen.backtest.evaluate import AlertRun, Episode
from rulesgen.backtest.incidents import as_data as verdict_data
from rulesgen.backtest.run import Result

WORK_HOURS = (9, 18)


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds == 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out


def _episode(e: Episode) -> dict[str, Any]:
    out: dict[str, Any] = {
        "labels": dict(e.labels),
        "pending": iso(e.pending),
        "firing": iso(e.firing),
        "resolved": iso(e.resolved) if e.resolved is not None else None,
        "to_fire_s": e.firing - e.pending,
    }
    if e.budget is not None:
        out["budget_consumed"] = e.budget
    return out


def _run(run: AlertRun) -> dict[str, Any]:
    return {
        "alert": run.alert,
        "step_s": run.step,
        "firings": run.firings,
        "firing_s": run.firing_s,
        "transient": run.transient,
        "flapping": [dict(labels) for labels in run.flapping],
        "episodes": [_episode(e) for e in run.episodes],
    }


def as_data(result: Result, work_hours: tuple[int, int] = WORK_HOURS) -> dict[str, Any]:
    out: dict[str, Any] = {
        "source": result.source,
        "from": iso(result.start),
        "to": iso(result.end),
        "queries": result.queries,
        "set": [str(w) for w in result.whatifs],
        "environments": {},
    }
    for env in result.envs:
        out["environments"][env.env] = {
            "alerts": {run.alert: _run(run) for run in env.runs},
            "receivers": env.notifications.per_receiver(work_hours),
            "notifications_per_alert": dict(sorted(env.notifications.per_alert().items())),
            "inhibited": len(env.notifications.inhibited),
        }
        if env.env in result.verdicts:
            for alert, verdict in result.verdicts[env.env].items():
                out["environments"][env.env]["alerts"][alert]["incidents"] = verdict_data(verdict)
    if result.sweep:
        out["sweep"] = {
            "of": result.sweep_of,
            "rows": [{"value": r.value, "firings": r.firings, "notifications": r.pages} for r in result.sweep],
        }
    return out


def render_json(result: Result, work_hours: tuple[int, int] = WORK_HOURS) -> str:
    return json.dumps(as_data(result, work_hours), indent=2, sort_keys=True)


def table(rows: list[list[str]], words: Collection[int] = (0,)) -> list[str]:
    """Columns aligned: those of words (the first, by default) to the left, numbers to
    the right."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            c.ljust(w) if i in words else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]


HEAD = ["alert", "firings", "firing time", "transient", "flapping", "to fire (max)", "notified"]


def alert_rows(result: Result, env: int) -> list[list[str]]:
    e = result.envs[env]
    per_alert = e.notifications.per_alert()
    rows = [HEAD]
    for run in e.runs:
        to_fire = max((ep.firing - ep.pending for ep in run.episodes), default=0)
        rows.append(
            [
                run.alert,
                str(run.firings),
                duration(run.firing_s),
                str(run.transient),
                str(len(run.flapping)),
                duration(to_fire),
                str(per_alert[run.alert]),
            ]
        )
    return rows


def receiver_lines(result: Result, env: int, work_hours: tuple[int, int]) -> list[str]:
    e = result.envs[env]
    lines = []
    for name, row in e.notifications.per_receiver(work_hours).items():
        lines.append(
            f"{name}: {row['notifications']} {e.notifications.noun(name)}, {row['outside_hours']} outside working hours"
            f" ({row['resolved']} resolved)"
        )
    lines.append(f"{len(e.notifications.inhibited)} firings inhibited")
    return lines


# Labels every firing of an environment carries: they tell one burn apart from no other.
_SHARED = frozenset({"alertname", "env", "severity", "team"})


def budget_lines(result: Result, env: int) -> list[str]:
    """Per burn-rate firing, the share of the SLO period's error budget it had used."""
    lines = []
    for run in result.envs[env].runs:
        for e in run.episodes:
            if e.budget is not None:
                where = " ".join(f"{k}={v}" for k, v in e.labels if k not in _SHARED)
                lines.append(f"{run.alert} {where} at {iso(e.firing)}: {e.budget:.2%}")
    if not lines:
        return []
    return ["error budget used at detection (burn rate x long window / SLO period):", *lines]


def incident_rows(result: Result, env: int) -> list[list[str]]:
    rows = [["alert", "caught", "missed", "to detect (max)", "false firings"]]
    for alert, v in result.verdicts.get(result.envs[env].env, {}).items():
        detect = duration(max(v.caught.values(), default=0))
        rows.append([alert, str(len(v.caught)), ", ".join(v.missed) or "0", detect, str(len(v.false))])
    return rows


def _sweep_rows(result: Result) -> list[list[str]]:
    envs = [e.env for e in result.envs]
    rows = [[result.sweep_of, *(f"{env} firings" for env in envs), *(f"{env} notified" for env in envs)]]
    for r in result.sweep:
        rows.append([str(r.value), *(str(r.firings.get(e, 0)) for e in envs), *(str(r.pages.get(e, 0)) for e in envs)])
    return rows


def title(result: Result) -> str:
    what = f"; with {', '.join(map(str, result.whatifs))}" if result.whatifs else ""
    return (
        f"backtest of {result.source}: {iso(result.start)} .. {iso(result.end)}"
        f" ({duration(result.end - result.start)}), {result.queries} queries{what}"
    )


def render_text(result: Result, work_hours: tuple[int, int] = WORK_HOURS) -> str:
    lines = [title(result)]
    for i, env in enumerate(result.envs):
        lines += ["", f"[{env.env}]", *table(alert_rows(result, i)), ""]
        lines += receiver_lines(result, i, work_hours)
        if budget := budget_lines(result, i):
            lines += ["", budget[0], *(f"  {line}" for line in budget[1:])]
        if result.verdicts:
            lines += ["", "against the incidents:", *table(incident_rows(result, i))]
    if result.sweep:
        lines += ["", f"sweep of {result.sweep_of}:", *table(_sweep_rows(result))]
    return "\n".join(lines)


def md_table(rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return out + ["| " + " | ".join(r) + " |" for r in rows[1:]]


def render_markdown(result: Result, work_hours: tuple[int, int] = WORK_HOURS) -> str:
    lines = [f"### {title(result)}"]
    for i, env in enumerate(result.envs):
        lines += ["", f"#### {env.env}", "", *md_table(alert_rows(result, i)), ""]
        lines += [f"- {line}" for line in receiver_lines(result, i, work_hours)]
        if budget := budget_lines(result, i):
            lines += ["", budget[0], "", *(f"- {line}" for line in budget[1:])]
        if result.verdicts:
            lines += ["", *md_table(incident_rows(result, i))]
    if result.sweep:
        lines += ["", f"#### sweep of {result.sweep_of}", "", *md_table(_sweep_rows(result))]
    return "\n".join(lines) + "\n"
