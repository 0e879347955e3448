"""Firings judged against known incidents (`--incidents FILE`, as `rulesgen simulate`
writes it): per alert, the incidents it caught and missed, how long it took to
detect each, and the firings that caught nothing (false pages).

An episode catches an incident meant for its alert when the labels they share agree
and its condition began to hold (it went pending) between the incident's start and
GRACE after its end (an increase over a window may lag the end). A slow burn-rate
ticket that goes pending during an incident and fires hours later, once its long
window has filled, is that incident's: its `for` is an hour or three."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rulesgen.backtest.common import BacktestError, parse_time
from rulesgen.backtest.evaluate import AlertRun, Episode

GRACE = 15 * 60


@dataclass(frozen=True)
class Incident:
    name: str
    start: int
    end: int
    labels: dict[str, str]
    alerts: tuple[str, ...]


@dataclass
class Verdict:
    alert: str
    caught: dict[str, int] = field(default_factory=dict)  # incident -> seconds to detect
    missed: list[str] = field(default_factory=list)
    false: list[Episode] = field(default_factory=list)


def load_incidents(path: Path) -> list[Incident]:
    try:
        doc = yaml.safe_load(path.read_text())
        return [
            Incident(
                str(i["name"]),
                parse_time(str(i["start"])),
                parse_time(str(i["end"])),
                {str(k): str(v) for k, v in (i.get("labels") or {}).items()},
                tuple(i.get("alerts") or ()),
            )
            for i in doc["incidents"]
        ]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise BacktestError(f"{path}: not an incidents file ({type(exc).__name__}: {exc})") from None


def _agrees(episode: Episode, incident: Incident) -> bool:
    labels = dict(episode.labels)
    return all(labels[k] == v for k, v in incident.labels.items() if k in labels)


def catches(episode: Episode, incident: Incident) -> bool:
    return incident.start <= episode.pending <= incident.end + GRACE and _agrees(episode, incident)


def judge(run: AlertRun, incidents: Sequence[Incident]) -> Verdict:
    meant = [i for i in incidents if run.alert in i.alerts]
    verdict = Verdict(run.alert)
    for incident in meant:
        hits = [e.firing for e in run.episodes if catches(e, incident)]
        if hits:
            verdict.caught[incident.name] = min(hits) - incident.start
        else:
            verdict.missed.append(incident.name)
    verdict.false = [e for e in run.episodes if not any(catches(e, i) for i in meant)]
    return verdict


def as_data(verdict: Verdict) -> dict[str, Any]:
    return {
        "caught": dict(sorted(verdict.caught.items())),
        "missed": verdict.missed,
        "false_firings": len(verdict.false),
    }
