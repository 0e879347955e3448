"""`rulesgen diff --backtest`: what a spec change does to the changed alerts' pages on
recorded history.

Each side of the change is backtested once, on one source: in each environment its
changed alerts run together with the alerts that can change their notifications (the
sources of an inhibition that may mute them; every alert when `group_by` leaves out
`alertname`, as they may then share a group), through the backtest's own evaluation and
Alertmanager model. One query cache serves both sides, so a quantity the change did not
move is queried once. How the first page moved is read per incident with `--incidents`,
else per firing both sides share (same labels, overlapping in time).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rulesgen.backtest.common import BacktestError, iso
from rulesgen.backtest.evaluate import Episode
from rulesgen.backtest.incidents import Incident, catches, load_incidents
from rulesgen.backtest.notify import PAGES, Notifications, matches, parse_matcher, route_for
from rulesgen.backtest.report import duration, md_table, table
from rulesgen.backtest.run import EnvResult, Queries, history, planned, require_data, run_env
from rulesgen.backtest.source import SourceError
from rulesgen.diff import ADDED, DISABLED, ENABLED, REMOVED, Notes
from rulesgen.ir import Alert, EnvIR, ProgramIR
from rulesgen.verify.client import Auth

BEFORE, AFTER = 0, 1
Pair = tuple[int, int]  # (before the change, after it)


@dataclass(frozen=True)
class PageChange:
    """One changed alert in one environment. `noun` is what `counted` counts: pages,
    or for an alert that pages on neither side, the messages (or notifications) it sends.
    `moved` holds, per incident or shared firing notified on both sides, how many seconds
    later (negative: sooner) the first of them came; `lost`/`gained` count the incidents
    notified on one side only."""

    env: str
    alert: str
    status: str
    noun: str
    counted: Pair
    pages: Pair
    notified: Pair
    moved: tuple[int, ...] = ()
    lost: int = 0
    gained: int = 0


@dataclass(frozen=True)
class Comparison:
    """Both sides on `source` between `start` and `end` (0, 0 and no changes: no alert
    changed, so the source was not opened)."""

    source: str
    start: int
    end: int
    queries: int
    incidents: str | None  # the incidents file first pages are compared on; None: shared firings
    changes: tuple[PageChange, ...]

    def over(self, max_pages: int) -> list[PageChange]:
        return [c for c in self.changes if c.pages[AFTER] > max_pages]


# --- which alerts run ------------------------------------------------------------------


def _static_labels(env: EnvIR, alert: Alert) -> list[dict[str, str]]:
    """Per rule, the labels known before the rule runs (its results may add more)."""
    return [{**dict(env.labels), **dict(rule.labels), "alertname": alert.name} for rule in alert.rules]


def _may_match(matchers: Sequence[str], labels: Mapping[str, str]) -> bool:
    """False only when a label known in advance rules a matcher out."""
    return all(matches([m], labels) for m in matchers if parse_matcher(m)[0] in labels)


def related(env: EnvIR, names: Sequence[str]) -> list[str]:
    """`names` and the alerts whose firings can change their notifications, in the
    environment's order."""
    am = env.alertmanager
    if am is None:
        return [a.name for a in env.alerts if a.name in names]
    if "alertname" not in am.group_by:
        return [a.name for a in env.alerts]
    targets = [labels for a in env.alerts if a.name in names for labels in _static_labels(env, a)]
    keep = set(names)
    for rule in am.inhibit_rules:
        muted = [t for t in targets if _may_match(rule.target, t)]
        for alert in env.alerts:
            for source in _static_labels(env, alert):
                if _may_match(rule.source, source) and any(
                    all(source.get(k, t.get(k)) == t.get(k, source.get(k)) for k in rule.equal) for t in muted
                ):
                    keep.add(alert.name)
    return [a.name for a in env.alerts if a.name in keep]


def _selection(program: ProgramIR, changed: Mapping[str, Mapping[str, str]]) -> list[tuple[EnvIR, list[str]]]:
    out = []
    for env in program.envs:
        names = [a.name for a in env.alerts if a.name in changed.get(env.env, {})]
        if names:
            out.append((env, related(env, names)))
    return out


# --- counting --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Side:
    """One environment on one side of the change, as the backtest ran it."""

    env: EnvIR
    result: EnvResult

    def alert(self, name: str) -> Alert | None:
        return next((a for a in self.env.alerts if a.name == name), None)


def _noun(alert: str, sides: Sequence[_Side]) -> str:
    """Pages when the alert pages (or would, by its routes) on either side; otherwise
    what its receivers send."""
    nouns: set[str] = set()
    for side in sides:
        sent, am, ir = side.result.notifications, side.env.alertmanager, side.alert(alert)
        if am is None or ir is None:
            continue
        silent = {r.name for r in am.receivers if not r.integrations}
        routed = {route_for(am, labels).receiver for labels in _static_labels(side.env, ir)} - silent
        nouns |= {sent.noun(r) for r in routed} | {sent.noun(n.receiver) for n in sent.sent if alert in n.alertnames}
    if PAGES in nouns:
        return PAGES
    return nouns.pop() if len(nouns) == 1 else "notifications"


def _counts(alert: str, side: _Side | None) -> tuple[int, int]:
    """(pages, every notification) announcing `alert`."""
    if side is None:
        return 0, 0
    sent = side.result.notifications
    return sent.per_alert(PAGES)[alert], sent.per_alert()[alert]


def _first_notices(alert: str, side: _Side | None, noun: str) -> list[tuple[Episode, int | None]]:
    """Each episode of `alert` with the first counted notification its aggregation
    group sent about it while it fired (None: it fired unnoticed, muted or too briefly)."""
    if side is None:
        return []
    notes: Notifications = side.result.notifications
    sent = [
        n
        for n in notes.sent
        if not n.resolved and alert in n.alertnames and (noun != PAGES or notes.noun(n.receiver) == PAGES)
    ]
    out: list[tuple[Episode, int | None]] = []
    for run in side.result.runs:
        if run.alert != alert:
            continue
        for e in run.episodes:
            labels = dict((*side.env.labels, *e.labels))
            until = e.resolved if e.resolved is not None else run.end + 1
            times = [n.at for n in sent if e.firing <= n.at < until and all(labels.get(k, "") == v for k, v in n.group)]
            out.append((e, min(times, default=None)))
    return out


def _on_incidents(
    alert: str, notices: Sequence[Sequence[tuple[Episode, int | None]]], incidents: Sequence[Incident]
) -> tuple[list[int], int, int]:
    moved, lost, gained = [], 0, 0
    for incident in (i for i in incidents if alert in i.alerts):
        before, after = (
            min((t for e, t in side if t is not None and catches(e, incident)), default=None) for side in notices
        )
        if before is not None and after is not None:
            moved.append(after - before)
        lost += int(before is not None and after is None)
        gained += int(before is None and after is not None)
    return moved, lost, gained


def _on_shared_firings(notices: Sequence[Sequence[tuple[Episode, int | None]]]) -> list[int]:
    def overlap(a: Episode, b: Episode) -> bool:
        ends = [e.resolved if e.resolved is not None else sys.maxsize for e in (a, b)]  # maxsize: still firing
        return max(a.pending, b.pending) < min(ends)

    moved = []
    for old, first in notices[BEFORE]:
        now = next((t for e, t in notices[AFTER] if t is not None and e.labels == old.labels and overlap(e, old)), None)
        if first is not None and now is not None:
            moved.append(now - first)
    return moved


def _change(
    env: str, alert: str, status: str, sides: tuple[_Side | None, _Side | None], incidents: Sequence[Incident] | None
) -> PageChange:
    # An added alert has no before, a removed one no after: that side counts nothing.
    held = [s if s is not None and s.alert(alert) is not None else None for s in sides]
    noun = _noun(alert, [s for s in held if s is not None])
    (pages_b, notified_b), (pages_a, notified_a) = (_counts(alert, s) for s in held)
    counted = (pages_b, pages_a) if noun == PAGES else (notified_b, notified_a)
    notices = [_first_notices(alert, s, noun) for s in held]
    if incidents is None:
        moved, lost, gained = _on_shared_firings(notices), 0, 0
    else:
        moved, lost, gained = _on_incidents(alert, notices, incidents)
    return PageChange(
        env, alert, status, noun, counted, (pages_b, pages_a), (notified_b, notified_a), tuple(moved), lost, gained
    )


def compare(
    old: ProgramIR,
    new: ProgramIR,
    changed: Mapping[str, Mapping[str, str]],
    source: str,
    start: str | None = None,
    end: str | None = None,
    incidents: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
    auth: Auth | None = None,
) -> Comparison:
    """The changed alerts (environment -> alert -> diff status) backtested on both sides
    of the change; BacktestError or SourceError for a source or file that cannot be read."""
    known = load_incidents(incidents) if incidents is not None else None
    named = str(incidents) if incidents is not None else None
    selections = (_selection(old, changed), _selection(new, changed))
    if not any(selections):
        return Comparison(source, 0, 0, 0, named, ())
    with history(source, start, end, auth) as (client, lo, hi):
        queries = Queries(client, lo, hi, progress)
        try:
            queries.fetch(planned([*selections[BEFORE], *selections[AFTER]]))
            ran = [{env.env: _Side(env, run_env(env, queries, names)) for env, names in side} for side in selections]
        except SourceError as exc:
            raise BacktestError(str(exc)) from None
        require_data(queries, source)
    changes = [
        _change(env, alert, status, (ran[BEFORE].get(env), ran[AFTER].get(env)), known)
        for env, alerts in sorted(changed.items())
        for alert, status in sorted(alerts.items())
    ]
    return Comparison(source, lo, hi, len(queries.cache), named, tuple(changes))


# --- words -----------------------------------------------------------------------------


def _plural(n: int, word: str, words: str = "") -> str:
    return f"{n} {word if n == 1 else words or word + 's'}"


def _would(n: int, noun: str) -> str:
    if noun == PAGES:
        return (
            "would not have paged" if n == 0 else "would have paged once" if n == 1 else f"would have paged {n} times"
        )
    return f"would have sent {n} {noun.removesuffix('s') if n == 1 else noun}"


def _delta(before: int, after: int) -> str:
    if after == before:
        return "as many"
    return f"{before - after} fewer" if after < before else f"{after - before} more"


def _shift(moved: Sequence[int]) -> str:
    lo, hi = min(moved), max(moved)
    if lo == hi == 0:
        return "at the same time"
    if lo < 0 < hi:
        return f"from {duration(-lo)} earlier to {duration(hi)} later"
    near, far, way = (lo, hi, "later") if lo >= 0 else (-hi, -lo, "earlier")
    if near == far:
        return f"{duration(far)} {way}"
    return f"{'up to ' if near == 0 else duration(near) + ' to '}{duration(far)} {way}"


def sentence(c: PageChange, on_incidents: bool) -> str:
    """`would have paged 18 times; with this change 6 (12 fewer), first page 4m later on
    the 2 incidents`."""
    before, after = c.counted
    if c.status in (ADDED, ENABLED):
        parts = [f"({c.status}) {_would(after, c.noun)}"]
    elif c.status in (REMOVED, DISABLED):
        parts = [f"({c.status}) {_would(before, c.noun)}; with this change none"]
    else:
        parts = [f"{_would(before, c.noun)}; with this change {after} ({_delta(before, after)})"]
    one, where = c.noun.removesuffix("s"), "incident" if on_incidents else "shared firing"
    if c.moved:
        on = f"the one {where}" if len(c.moved) == 1 else f"the {len(c.moved)} {where}s"
        parts.append(f"first {one} {_shift(c.moved)} on {on}")
    if c.lost:
        parts.append(f"no {one} on {_plural(c.lost, 'incident')} that had one")
    if c.gained:
        parts.append(f"a {one} on {_plural(c.gained, 'incident')} that had none")
    return ", ".join(parts)


def gate(c: Comparison, max_pages: int) -> str:
    """Whether any changed alert would page more than `max_pages` times with the change."""
    over = c.over(max_pages)
    if not over:
        return (
            f"--max-pages {max_pages} passed: no changed alert would have paged more than {_plural(max_pages, 'time')}"
        )
    named = "; ".join(f"{x.alert} would have paged {_plural(x.pages[AFTER], 'time')} in {x.env}" for x in over)
    return f"--max-pages {max_pages} failed: {named}"


def notes(c: Comparison, max_pages: int | None = None) -> Notes:
    """The lines `rulesgen diff` adds: what was backtested, the gate, and a sentence per
    changed alert and environment."""
    if not c.changes:
        return Notes(("Backtest: no alert changed, nothing to backtest.",))
    basis = f"the incidents in {c.incidents}" if c.incidents else "the firings both sides share"
    head = [
        f"Backtest of the changed alerts on {c.source}, {iso(c.start)} .. {iso(c.end)} ({duration(c.end - c.start)}, "
        f"{_plural(c.queries, 'query', 'queries')}); first pages compared on {basis}."
    ]
    if max_pages is not None:
        head.append(gate(c, max_pages))
    per_env: dict[str, tuple[tuple[str, str], ...]] = {}
    for x in c.changes:
        per_env[x.env] = (*per_env.get(x.env, ()), (x.alert, sentence(x, c.incidents is not None)))
    return Notes(tuple(head), per_env)


def as_data(c: Comparison, max_pages: int | None = None) -> dict[str, Any]:
    """The comparison as JSON-ready data, in `rulesgen diff --format json`'s `backtest`."""
    return {
        "source": c.source,
        "from": iso(c.start) if c.changes else None,
        "to": iso(c.end) if c.changes else None,
        "queries": c.queries,
        "first_compared_on": "incidents" if c.incidents else "shared firings",
        "incidents": c.incidents,
        "max_pages": max_pages,
        "over_max_pages": [{"env": x.env, "alert": x.alert, "pages": x.pages[AFTER]} for x in c.over(max_pages or 0)]
        if max_pages is not None
        else [],
        "alerts": [
            {
                "env": x.env,
                "alert": x.alert,
                "status": x.status,
                "counted": x.noun,
                "before": x.counted[BEFORE],
                "after": x.counted[AFTER],
                "pages_before": x.pages[BEFORE],
                "pages_after": x.pages[AFTER],
                "notified_before": x.notified[BEFORE],
                "notified_after": x.notified[AFTER],
                "first_moved_s": list(x.moved),
                "incidents_lost": x.lost,
                "incidents_gained": x.gained,
                "line": sentence(x, c.incidents is not None),
            }
            for x in c.changes
        ],
    }


def side_by_side(c: Comparison, ref: str, markdown: bool = False) -> str:
    """`backtest --compare REF`: per environment, each alert's notifications at REF and
    in the work tree, and what moved (the sentence `diff --backtest` writes)."""
    head = f"backtest of {c.source}, {iso(c.start)} .. {iso(c.end)} ({duration(c.end - c.start)}): {ref} | work tree"
    lines = [f"### {head}" if markdown else head]
    for env in sorted({x.env for x in c.changes}):
        rows = [["alert", "counts", ref, "work tree", "change"]]
        for x in (x for x in c.changes if x.env == env):
            before, after = x.counted
            moved = sentence(x, c.incidents is not None).partition("; ")[2] if x.status not in (ADDED, ENABLED) else ""
            rows.append([x.alert, x.noun, str(before), str(after), x.status if before == after else moved])
        lines += ["", f"#### {env}", ""] if markdown else ["", f"[{env}]"]
        lines += md_table(rows) if markdown else table(rows, words=(0, 1, 4))
    return "\n".join(lines) + "\n"
