"""A backtest as one self-contained HTML file: per environment and alert, a PNG of each
quantity it compares (thresholds drawn, pending and firing shaded) and its numbers."""

from __future__ import annotations

import base64
import html
import io
from datetime import UTC, datetime
from typing import Any

from rulesgen.backtest.evaluate import AlertRun
from rulesgen.backtest.report import HEAD, WORK_HOURS, alert_rows, budget_lines, receiver_lines, title
from rulesgen.backtest.run import Result
from rulesgen.ir import Compare

MAX_LINES = 8  # label sets drawn per quantity; the rest would be unreadable
MAX_PANELS = 3


def _png(run: AlertRun, baseline: tuple[Compare, ...] = ()) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quantities: dict[str, list[Any]] = {}
    for leaf, matrix in run.compared:
        quantities.setdefault(leaf.quantity.expr, [leaf.quantity, set(), matrix])[1].add((leaf.op, leaf.value))
    if not quantities:
        return None
    panels = list(quantities.values())[:MAX_PANELS]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.6 * len(panels)), sharex=True, squeeze=False)
    for ax, (quantity, thresholds, matrix) in zip(axes[:, 0], panels, strict=True):
        for labels, series in sorted(matrix.items())[:MAX_LINES]:
            xs, ys = _broken(sorted(series.items()), run.step)
            name = ",".join(v for _, v in labels) or "value"
            ax.plot(xs, ys, linewidth=0.8, label=name)
        for op, value in sorted(thresholds):
            ax.axhline(value, color="black", linestyle="-", linewidth=0.8)
            ax.annotate(f"{op} {value:g}", (0, value), xycoords=("axes fraction", "data"), fontsize=7)
        was = {(c.op, c.value) for c in baseline if c.quantity.expr == quantity.expr} - thresholds
        for op, value in sorted(was):
            ax.axhline(value, color="grey", linestyle="--", linewidth=0.8)
            ax.annotate(f"was {op} {value:g}", (0, value), xycoords=("axes fraction", "data"), fontsize=7)
        for e in run.episodes:
            end = e.resolved if e.resolved is not None else run.end
            ax.axvspan(_dt(e.pending), _dt(e.firing), color="orange", alpha=0.2, linewidth=0)
            ax.axvspan(_dt(e.firing), _dt(end), color="red", alpha=0.25, linewidth=0)
        ax.set_ylabel(quantity.unit)
        ax.set_title(quantity.what, fontsize=8, loc="left")
        if len(matrix) > 1:
            ax.legend(fontsize=6, loc="upper right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _broken(points: list[tuple[int, float]], step: int) -> tuple[list[datetime], list[float]]:
    """The points with a NaN wherever a step has no sample, so a gap is drawn as one."""
    xs: list[datetime] = []
    ys: list[float] = []
    for k, (t, v) in enumerate(points):
        if k and t - points[k - 1][0] > step:
            xs.append(_dt(t - step))
            ys.append(float("nan"))
        xs.append(_dt(t))
        ys.append(v)
    return xs, ys


def _dt(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _table(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><tr>{head}</tr>{body}</table>"


STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}"
    "img{max-width:100%}"
)


def render_html(result: Result, work_hours: tuple[int, int] = WORK_HOURS) -> str:
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>rulesgen backtest</title><style>{STYLE}</style></head><body>"
    ]
    parts.append(f"<h1>{html.escape(title(result))}</h1>")
    parts.append("<p>Orange: pending; red: firing; black lines: thresholds; dashed: as written, before --set.</p>")
    for i, env in enumerate(result.envs):
        parts.append(f"<h2>{html.escape(env.env)}</h2>")
        parts.append(_table(alert_rows(result, i)))
        parts.append(
            "<ul>"
            + "".join(f"<li>{html.escape(line)}</li>" for line in receiver_lines(result, i, work_hours))
            + "</ul>"
        )
        if budget := budget_lines(result, i):
            parts.append(f"<p>{html.escape(budget[0])}</p>")
            parts.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in budget[1:]) + "</ul>")
        rows = alert_rows(result, i)
        for run, row in zip(env.runs, rows[1:], strict=True):
            parts.append(f"<h3>{html.escape(run.alert)}</h3>")
            parts.append(_table([HEAD, row]))
            png = _png(run, result.baseline.get(env.env, {}).get(run.alert, ()))
            if png:
                parts.append(f"<img alt='{html.escape(run.alert)}' src='data:image/png;base64,{png}'>")
    parts.append("</body></html>")
    return "\n".join(parts)
