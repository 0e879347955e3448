"""Absence guards derived from the spec: for every metric a paging alert reads that the
catalog declares `always_present`, an `absence_guard` alert per scope the alert selects.

A guard is scoped by the matchers that pick *where* the alert looks: labels it fires
per (`by`) and labels it selects with a label set (`network: {set: mainnet_networks}`),
each with values it names. Matchers that pick *what* it counts (`status: failed`) do
not scope the guard: a failed-transactions series that does not exist because nothing
failed yet is normal, and the succeeded ones show the network is alive.

Alerts that select the same scopes of one metric share one guard (three billing alerts
read `billing_transactions_total` per mainnet: one page when a mainnet's series go, not
three), named after the metric and its scope labels
(`BillingTransactionsTotalMissingPerNetwork`). A spec alert of that name replaces it:
the way to give a guard another `for`, team or severity."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rulesgen.kinds.absence_guard import GUARD_FOR, AbsenceGuardAlert, ScopeMatcher
from rulesgen.kinds.absent import AbsentAlert
from rulesgen.kinds.base import AlertModel, SelectorUse
from rulesgen.spec.models import MatcherSpec, SetRef, SpecHeader

SUMMARY = "No [[ metric ]] series[[ scope ]] for [[ gone_for ]]: [[ guarded ]] cannot page there."


def guard_name(metric: str, labels: Sequence[str]) -> str:
    """`billing_transactions_total`, (`network`,) -> `BillingTransactionsTotalMissingPerNetwork`."""
    per = "Per" + "".join(_camel(label) for label in labels) if labels else ""
    return f"{_camel(metric)}Missing{per}"


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace(":", "_").split("_"))


def derive_guards(header: SpecHeader, alerts: Sequence[AlertModel]) -> list[AbsenceGuardAlert]:
    """The guards of the spec's paging alerts, in the order of the first alert needing each."""
    taken = {alert.name.casefold() for alert in alerts}
    found: dict[tuple[str, tuple[str, ...]], list[tuple[AlertModel, dict[str, ScopeMatcher]]]] = {}
    for alert in alerts:
        if not header.pages(alert.severity) or alert.invariants.no_data_fires:
            continue
        for metric, uses in _by_metric(alert.selectors()).items():
            declared = header.metrics.get(metric)
            if declared is None or not declared.always_present:
                continue
            scope = _scope(alert, uses, header)
            if scope is not None:
                found.setdefault((metric, tuple(sorted(scope))), []).append((alert, scope))
    out = []
    for (metric, labels), readers in found.items():
        name = guard_name(metric, labels)
        if name.casefold() in taken:
            continue
        first = readers[0][0]
        # No sooner than an absent alert of the whole metric, which mutes the guard
        # (`lower.routing.guard_inhibitions`): Alertmanager must hold it first.
        wholes = [a.for_ for a in alerts if isinstance(a, AbsentAlert) and a.metric == metric]
        out.append(
            AbsenceGuardAlert.model_validate(
                {
                    "kind": "absence_guard",
                    "name": name,
                    "metric": metric,
                    "matchers": {label: _merged([s[label] for _, s in readers], header) for label in labels},
                    "for": max([GUARD_FOR, *wholes]),
                    "team": first.team,
                    "severity": first.severity,
                    "summary": SUMMARY,
                    "guards": list(dict.fromkeys(alert.name for alert, _ in readers)),
                }
            )
        )
    return out


def guarded_by(alerts: Iterable[AlertModel]) -> dict[str, tuple[str, ...]]:
    """Per generated or hand-written guard, the alerts it watches for."""
    return {a.name: tuple(a.guards) for a in alerts if isinstance(a, AbsenceGuardAlert) and a.guards}


def _by_metric(uses: Iterable[SelectorUse]) -> dict[str, list[SelectorUse]]:
    out: dict[str, list[SelectorUse]] = {}
    for use in uses:
        out.setdefault(use.selector.metric, []).append(use)
    return out


def _scope(alert: AlertModel, uses: Sequence[SelectorUse], header: SpecHeader) -> dict[str, ScopeMatcher] | None:
    """The matchers on labels that pick where the alert looks, the same in every selector
    of the metric; None where a label set they name is unknown (lint reports it)."""
    grouped = set(alert.grouping())
    labels = set.intersection(*(set(use.selector.matchers) for use in uses))
    out: dict[str, ScopeMatcher] = {}
    for label in sorted(labels):
        specs = [use.selector.matchers[label] for use in uses]
        spec = specs[0]
        if any(s != spec for s in specs[1:]) or not _positive(spec):
            continue
        if label in grouped or isinstance(spec, SetRef):
            if isinstance(spec, SetRef) and spec.set not in header.label_sets:
                return None
            out[label] = spec  # type: ignore[assignment]  # _positive checked it
    return out


def _positive(spec: MatcherSpec) -> bool:
    return isinstance(spec, str | list | SetRef)


def _merged(specs: Sequence[ScopeMatcher], header: SpecHeader) -> ScopeMatcher:
    """One matcher selecting what each alert's does: itself where they agree, else the
    values of all of them."""
    if all(s == specs[0] for s in specs[1:]):
        return specs[0]
    values: list[str] = []
    for spec in specs:
        if isinstance(spec, SetRef):
            values.extend(header.label_sets[spec.set].values)
        else:
            values.extend([spec] if isinstance(spec, str) else spec)
    return list(dict.fromkeys(values))
