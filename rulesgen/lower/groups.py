"""Rule groups: one per team, recording rules before the alerts that read them."""

from __future__ import annotations

from collections.abc import Sequence

from rulesgen import conventions
from rulesgen.ir import Alert, AlertRule, RecordingRule, RuleGroup
from rulesgen.promql import Duration


def rule_groups(teams: Sequence[str], alerts: Sequence[Alert], interval: Duration) -> tuple[RuleGroup, ...]:
    """One group per team: its recording rules in first-use order (so a ratio follows
    the rates it divides), then its alerts. A record shared by two teams lives with
    the first, since a rule defined twice would write the same series twice."""
    placed: set[str] = set()
    groups = []
    for team in teams:
        rules: list[RecordingRule | AlertRule] = []
        own = [alert for alert in alerts if alert.team == team]
        for alert in own:
            for record in alert.records:
                if record.record not in placed:
                    placed.add(record.record)
                    rules.append(record)
        rules.extend(rule for alert in own for rule in alert.rules)
        if rules:
            groups.append(
                RuleGroup(
                    name=conventions.group_name(team),
                    file=conventions.rule_file(team),
                    interval=interval,
                    rules=tuple(rules),
                )
            )
    return tuple(groups)
