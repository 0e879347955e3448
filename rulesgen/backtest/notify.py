"""What Alertmanager would have sent for a set of firing episodes: each routed through
the environment's route tree, muted by its inhibition rules, grouped by `group_by`, and
flushed after `group_wait`, then every `group_interval` when the group changed or
`repeat_interval` has passed (Alertmanager's dispatcher and notification log).

Every integration rulesgen writes sends resolved notifications; they are counted apart
from the notifications that announce firing alerts (the pages and messages)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rulesgen.backtest.evaluate import Episode
from rulesgen.ir import AlertmanagerIR, InhibitRule, Labels, Receiver, Route
from rulesgen.promql import Duration

# Alertmanager's defaults for a route that sets none of its own.
GROUP_WAIT, GROUP_INTERVAL, REPEAT_INTERVAL = 30, 300, 4 * 3600

PAGES = "pages"


@dataclass(frozen=True)
class Timing:
    receiver: str
    group_wait: int
    group_interval: int
    repeat_interval: int


@dataclass(frozen=True)
class Notification:
    receiver: str
    at: int
    alertnames: tuple[str, ...]
    resolved: bool = False
    group: Labels = ()  # the aggregation group's `group_by` labels: which alerts it speaks for


@dataclass
class Notifications:
    sent: list[Notification] = field(default_factory=list)
    inhibited: list[Episode] = field(default_factory=list)  # muted for all their firing time
    nouns: dict[str, str] = field(default_factory=dict)  # receiver -> what it sends: pages, messages

    def noun(self, receiver: str) -> str:
        return self.nouns.get(receiver, "notifications")

    def per_receiver(self, work_hours: tuple[int, int]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for n in self.sent:
            row = out.setdefault(n.receiver, {"notifications": 0, "outside_hours": 0, "resolved": 0})
            if n.resolved:
                row["resolved"] += 1
                continue
            row["notifications"] += 1
            row["outside_hours"] += int(not working(n.at, work_hours))
        return dict(sorted(out.items()))

    def per_alert(self, noun: str | None = None) -> Counter[str]:
        """The notifications announcing each alert; with `noun` (`PAGES`), only those to
        receivers that send that kind."""
        return Counter(
            name
            for n in self.sent
            if not n.resolved and (noun is None or self.noun(n.receiver) == noun)
            for name in n.alertnames
        )


def working(t: int, hours: tuple[int, int]) -> bool:
    """Whether `t` falls in working hours (UTC, Monday to Friday)."""
    when = datetime.fromtimestamp(t, UTC)
    return when.weekday() < 5 and hours[0] <= when.hour < hours[1]


def parse_matcher(text: str) -> tuple[str, str, str]:
    """`label="value"` (rulesgen writes equality and regex matchers) -> (label, op, value)."""
    for op in ("=~", "!~", "!=", "="):
        name, sep, value = text.partition(op)
        if sep and name and "=" not in name and "!" not in name:
            return name.strip(), op, json.loads(value.strip())
    raise ValueError(f"not a matcher: {text}")


def matches(matchers: Iterable[str], labels: Mapping[str, str]) -> bool:
    import re

    for text in matchers:
        name, op, value = parse_matcher(text)
        have = labels.get(name, "")
        ok = {
            "=": have == value,
            "!=": have != value,
            "=~": re.fullmatch(value, have) is not None,
            "!~": re.fullmatch(value, have) is None,
        }[op]
        if not ok:
            return False
    return True


def _s(d: Duration | None, default: int) -> int:
    return d.ms // 1000 if d is not None else default


def route_for(am: AlertmanagerIR, labels: Mapping[str, str]) -> Timing:
    """The first matching leaf of the route tree, with the timings it inherits."""
    route: Route = am.route
    gw, gi, ri = (
        _s(route.group_wait, GROUP_WAIT),
        _s(route.group_interval, GROUP_INTERVAL),
        _s(route.repeat_interval, REPEAT_INTERVAL),
    )
    while True:
        child = next((r for r in route.routes if matches(r.matchers, labels)), None)
        if child is None:
            return Timing(route.receiver, gw, gi, ri)
        route = child
        gw, gi, ri = _s(route.group_wait, gw), _s(route.group_interval, gi), _s(route.repeat_interval, ri)


def _end(e: Episode, end: int) -> int:
    return e.resolved if e.resolved is not None else end + 1


def _muted(rules: Sequence[InhibitRule], episodes: Sequence[Episode], end: int) -> dict[int, list[tuple[int, int]]]:
    """Per episode index, the intervals during which an inhibition rule mutes it."""
    out: dict[int, list[tuple[int, int]]] = {}
    for rule in rules:
        sources = [e for e in episodes if matches(rule.source, dict(e.labels))]
        for i, target in enumerate(episodes):
            t = dict(target.labels)
            if not matches(rule.target, t):
                continue
            for source in sources:
                s = dict(source.labels)
                if source is target or any(s.get(k, "") != t.get(k, "") for k in rule.equal):
                    continue
                lo, hi = max(source.firing, target.firing), min(_end(source, end), _end(target, end))
                if lo < hi:
                    out.setdefault(i, []).append((lo, hi))
    return out


def notifications(am: AlertmanagerIR, episodes: Sequence[Episode], end: int, extra: Labels = ()) -> Notifications:
    """Everything Alertmanager would have sent for `episodes` up to `end`."""
    result = Notifications(nouns={r.name: _noun(r) for r in am.receivers})
    labelled = [dict((*extra, *e.labels)) for e in episodes]
    muted = _muted(am.inhibit_rules, episodes, end)
    for i, e in enumerate(episodes):
        spans = muted.get(i, [])
        if spans and _covered(e.firing, _end(e, end), spans):
            result.inhibited.append(e)
    groups: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    timing: dict[tuple[str, tuple[str, ...]], Timing] = {}
    for i, labels in enumerate(labelled):
        route = route_for(am, labels)
        key = (route.receiver, tuple(labels.get(k, "") for k in am.group_by))
        groups.setdefault(key, []).append(i)
        timing[key] = route
    silent = {r.name for r in am.receivers if not r.integrations}
    for key, members in sorted(groups.items()):
        if key[0] in silent:
            continue
        group = tuple(zip(am.group_by, key[1], strict=True))
        result.sent += _flush_group(
            timing[key], [episodes[i] for i in members], [muted.get(i, []) for i in members], end, group
        )
    result.sent.sort(key=lambda n: (n.at, n.receiver))
    return result


def _noun(receiver: Receiver) -> str:
    kinds = {integration for integration, _ in receiver.integrations}
    # A receiver that also posts to chat still wakes someone up: it pages.
    if "pagerduty_configs" in kinds:
        return PAGES
    if kinds == {"slack_configs"}:
        return "messages"
    return "notifications"


def _covered(lo: int, hi: int, spans: list[tuple[int, int]]) -> bool:
    at = lo
    for a, b in sorted(spans):
        if a > at:
            return False
        at = max(at, b)
        if at >= hi:
            return True
    return at >= hi


def _flush_group(
    timing: Timing, episodes: list[Episode], muted: list[list[tuple[int, int]]], end: int, group: Labels
) -> list[Notification]:
    """The notifications of one aggregation group, as Alertmanager's dispatcher and
    notification log decide them."""

    def present(t: int) -> list[int]:
        return [i for i, e in enumerate(episodes) if e.firing <= t < _end(e, end)]

    def active(t: int) -> frozenset[Labels]:
        """The alerts firing and not muted at `t`, by their labels: Alertmanager knows
        an alert by its label set, so one that fires again is the same alert."""
        return frozenset(episodes[i].labels for i in present(t) if not any(a <= t < b for a, b in muted[i]))

    out: list[Notification] = []
    births = sorted(e.firing for e in episodes)
    t_birth = births[0] if births else None
    while t_birth is not None and t_birth <= end:
        last: frozenset[Labels] | None = None
        last_at = 0
        t = t_birth + timing.group_wait
        while t <= end:
            firing = active(t)
            notify = False
            if last is None or not last:
                notify = bool(firing)
            elif not firing <= last:
                notify = True
            elif firing != last:
                notify = True  # some resolved
            elif firing and t - last_at > timing.repeat_interval:
                notify = True
            if notify:
                names = tuple(sorted({dict(labels)["alertname"] for labels in (firing or last or ())}))
                out.append(Notification(timing.receiver, t, names, resolved=not firing, group=group))
                last, last_at = firing, t
            if not present(t):
                break  # all resolved and flushed: the group is gone
            t += timing.group_interval
        t_birth = next((b for b in births if b > t), None)
    return out
