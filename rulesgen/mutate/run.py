"""Running mutants: baselines first, then rounds of scenarios per mutant, cheapest and
likeliest killers first, all alerts' files of a round batched into promtool processes;
alerts equal in two environments but for static labels share their verdicts."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rulesgen.conventions import TEST_SUFFIX, alert_of
from rulesgen.mutate.mutants import Mutant, alert_mutants
from rulesgen.mutate.operators import Units
from rulesgen.progress import SILENT, Progress
from rulesgen.verify.closure import ClosureGroup, rule_closure
from rulesgen.verify.deployed import tested_environments
from rulesgen.verify.promtool import AlertResult, describe, read_test, run_promtool, write_run_files

# ---------------------------------------------------------------------------
# Running


@dataclass
class AlertScore:
    env: str
    alert: str
    mutants: list[Mutant] = field(default_factory=list)
    baseline_ok: bool = True
    baseline_output: str = ""
    baselines: list[AlertResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(m.status == status for m in self.mutants)

    @property
    def scored(self) -> int:
        """Mutants that count: all but the equivalent and those promtool could not load."""
        return len(self.mutants) - self.count("equivalent") - self.count("invalid")

    @property
    def score(self) -> float | None:
        return self.count("killed") / self.scored if self.scored else None


@dataclass
class MutationReport:
    alerts: list[AlertScore]

    def env_score(self, env: str) -> float | None:
        scored = sum(a.scored for a in self.alerts if a.env == env)
        killed = sum(a.count("killed") for a in self.alerts if a.env == env)
        return killed / scored if scored else None

    @property
    def envs(self) -> list[str]:
        return sorted({a.env for a in self.alerts})

    @property
    def baseline_ok(self) -> bool:
        return all(a.baseline_ok for a in self.alerts)


# A scenario of an alert's tests: its estimated promtool cost, the evaluation interval
# of the file it came from, and its test group.
_Scenario = tuple[int, str, dict[str, Any]]


def _scenarios(doc: Mapping[str, Any], rules: int) -> list[_Scenario]:
    """The test document's scenarios with their estimated cost and evaluation interval."""
    interval = str(doc.get("evaluation_interval", "1m"))
    return [(describe("", Path("x"), {**doc, "tests": [t]}, rules).cost, interval, t) for t in doc.get("tests") or []]


@dataclass
class _Pending:
    mutant: Mutant
    closure: list[ClosureGroup]
    described: AlertResult
    left: list[_Scenario]  # scenarios not run yet
    stem: Path


class _Kills:
    """Which scenarios have killed mutants so far, per alert and per mutated rule: a
    scenario that killed mutants of a rule is the likeliest to kill its next ones."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, ...], int] = {}

    def record(self, p: _Pending) -> None:
        m = p.mutant
        for name in m.killed_by:
            for key in ((m.env, m.alert, name), (m.env, m.alert, m.rule, name)):
                self.counts[key] = self.counts.get(key, 0) + 1

    def reorder(self, p: _Pending) -> None:
        m = p.mutant

        def power(scenario: _Scenario) -> tuple[int, int]:
            name = str(scenario[2].get("name", "")).split("/", 1)[-1]
            kills = 3 * self.counts.get((m.env, m.alert, m.rule, name), 0)
            return -(kills + self.counts.get((m.env, m.alert, name), 0)), scenario[0]

        p.left.sort(key=power)


def _run_stages(pending: list[_Pending], jobs: int, timeout: float, progress: Progress = SILENT) -> None:
    """Rounds of scenarios for all live mutants at once: one scenario each at first (a
    different one for each mutant of an alert), then twice as many per round; a failing
    scenario kills, and after each round every survivor's remaining scenarios are
    reordered by what has killed mutants so far, cheapest first among equals.

    Most mutants die on one scenario, so the costly multi-day scenarios run only for
    the few that nothing cheaper (or likelier) kills."""
    kills, size, round_, total = _Kills(), 1, 0, len(pending)
    while pending:
        runs: list[AlertResult] = []
        parts: list[list[AlertResult]] = []
        for p in pending:
            taken, p.left = p.left[:size], p.left[size:]
            by_interval: dict[str, list[dict[str, Any]]] = {}
            for _, interval, test in taken:
                by_interval.setdefault(interval, []).append(test)
            parts.append([])
            for n, (interval, tests) in enumerate(sorted(by_interval.items())):
                doc = {"evaluation_interval": interval, "tests": tests}
                names = [str(t.get("name", "")) for t in tests]
                result = replace(p.described, failed=[], output="", ok=True, scenarios=names)
                stem = f"{p.stem.name}.r{round_}.{n}"
                _, result.run_file = write_run_files(doc, p.closure, p.stem.parent, stem)
                parts[-1].append(result)
                runs.append(result)
        what = f"round {round_ + 1}, {total - len(pending)}/{total} mutants decided; scenarios"
        progress.start(sum(len(r.scenarios) for r in runs), what)
        run_promtool(runs, jobs, timeout, max_files=24, progress=progress)
        for p, results in zip(pending, parts, strict=True):
            p.mutant.result = _merged(results)
            if p.mutant.result.ok and p.left:
                continue  # passed this round's scenarios: more to come
            _verdict(p.mutant)
            if p.mutant.status == "killed":
                kills.record(p)
        pending = [p for p in pending if p.mutant.status == "pending"]
        for p in pending:
            kills.reorder(p)
        size, round_ = size * 2 if round_ else size, round_ + 1


def _merged(results: list[AlertResult]) -> AlertResult:
    """One verdict of a round's files: a failing scenario anywhere kills."""
    failed = sorted({name for r in results for name in r.failed})
    named = [name for name in failed if not name.startswith("(")]
    return replace(
        results[0],
        ok=all(r.ok for r in results),
        failed=named or failed,
        output="\n".join(r.output for r in results if r.output),
    )


def _verdict(mutant: Mutant) -> None:
    r = mutant.result
    if r is None:
        return
    if r.ok:
        mutant.status = "survived"
    elif r.failed == ["(timeout)"]:
        mutant.status = "error"
    elif r.failed == ["(file)"]:
        mutant.status, mutant.explanation = "invalid", f"promtool cannot load it: {r.output.strip()[:200]}"
    else:
        mutant.status, mutant.killed_by = "killed", tuple(r.failed)


def verdict_signature(closure: list[ClosureGroup], docs: Sequence[Mapping[str, Any]]) -> str:
    """What decides a mutant's fate, without the alert rules' static labels and
    annotations (env, cluster, links, severity): mutants never touch those, and the
    baseline proves they match in each environment. Environments whose alert is equal
    in this (staging without overrides) have the same mutants with the same fates."""
    static: set[str] = set()
    dynamic: set[str] = set()
    for group in closure:
        for rule in group.rules:
            static |= {k for k, v in (rule.get("labels") or {}).items() if "{{" not in str(v)}
            for k, v in (rule.get("annotations") or {}).items():
                (dynamic if "{{" in str(v) else static).add(k)
    static -= dynamic

    def bare(values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if k not in static}

    rules = [
        [g.name, g.interval, [{**r, **{k: bare(r[k]) for k in ("labels", "annotations") if k in r}} for r in g.rules]]
        for g in closure
    ]
    tests = [
        {
            **doc,
            "tests": [
                {
                    **t,
                    "alert_rule_test": [
                        {
                            **case,
                            "exp_alerts": [{k: bare(v) for k, v in e.items()} for e in case.get("exp_alerts") or []],
                        }
                        for case in t.get("alert_rule_test") or []
                    ],
                }
                for t in doc.get("tests") or []
            ],
        }
        for doc in docs
    ]
    return hashlib.sha256(json.dumps([rules, tests], sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class _Run:
    """Everything one `rulesgen mutate` run sends to promtool."""

    jobs: int
    timeout: float
    baselines: list[AlertResult] = field(default_factory=list)
    pending: list[_Pending] = field(default_factory=list)
    # Alerts equal to one already mutated (see verdict_signature): (copy, original).
    shared: list[tuple[AlertScore, AlertScore]] = field(default_factory=list)
    seen: dict[str, AlertScore] = field(default_factory=dict)


def _prepare(
    run: _Run, score: AlertScore, paths: list[Path], closure: list[ClosureGroup], work: Path, units: Units
) -> None:
    """Queue an alert's baselines and mutants (or note the alert it shares them with)."""
    rules = sum(len(g.rules) for g in closure)
    scenarios: list[_Scenario] = []
    docs = []
    for path in paths:
        doc = read_test(path)
        docs.append(doc)
        described = describe(score.env, path, doc, rules)
        baseline = replace(described, failed=[], output="", ok=True)
        stem = path.name.removesuffix(TEST_SUFFIX)
        _, baseline.run_file = write_run_files(doc, closure, work, f"{stem}.baseline")
        score.baselines.append(baseline)
        run.baselines.append(baseline)
        scenarios += _scenarios(doc, rules)
    scenarios.sort(key=lambda s: s[0])
    mutants = alert_mutants(score.env, score.alert, closure, units)
    score.mutants = [mutant for mutant, _ in mutants]
    signature = verdict_signature(closure, docs)
    if signature in run.seen:
        run.shared.append((score, run.seen[signature]))
        return
    run.seen[signature] = score
    for n, (mutant, mutated) in enumerate(mutants):
        if mutant.status == "pending":
            # The first round probes: each mutant of the alert starts with another
            # scenario, so every scenario's killing power is known after one round.
            first = n % max(len(scenarios), 1)
            left = scenarios[first:] + scenarios[:first]
            run.pending.append(_Pending(mutant, mutated, described, left, work / f"{score.alert}.m{n:04d}"))


def caught_elsewhere(scores: Sequence[AlertScore]) -> None:
    """A mutant of a recording rule that several alerts read is one wrong rule deployed
    once: `rulesgen test` catches it when any of those alerts' tests fail on it. A
    survivor that another alert's tests killed in the same environment (the same rule
    mutated into the same text) is killed, and says by whom."""
    killers: dict[tuple[str, str, str, str], str] = {}
    for score in scores:
        for m in score.mutants:
            if m.status == "killed" and m.rule.startswith("record "):
                killers.setdefault((m.env, m.rule, m.field, m.after), score.alert)
    for score in scores:
        for m in score.mutants:
            other = killers.get((m.env, m.rule, m.field, m.after))
            if m.status == "survived" and other is not None and other != score.alert:
                m.status, m.killed_by = "killed", (f"{other}'s tests",)
                m.explanation = f"{m.explanation}; {other}'s tests, which read the same record, fail on it"


def run_mutations(
    output: Path,
    envs: Sequence[str] | None = None,
    alerts: Sequence[str] | None = None,
    jobs: int = 2,
    units: Mapping[tuple[str, str], Units] | None = None,
    timeout: float = 600,
    progress: Progress = SILENT,
) -> MutationReport:
    """Mutate every selected alert's deployed rules and run its tests against each mutant.

    Each alert's unmutated baseline runs all its tests; mutants run them in rounds,
    stopping at the first failure (see `_run_stages`). All alerts' files of a round go
    to promtool together: many files per process, balanced by cost. An alert equal in
    another environment but for its static labels shares that one's verdicts."""
    scores: list[AlertScore] = []
    run = _Run(jobs, timeout)
    progress.start(0, "making mutants")
    with tempfile.TemporaryDirectory(prefix="rulesgen-mutate-") as tmp:
        for env, deployed, tests in tested_environments(output, envs):
            work = Path(tmp) / env
            work.mkdir()
            files: dict[str, list[Path]] = {}
            for path in tests:
                files.setdefault(alert_of(path.name), []).append(path)
            for alert, paths in files.items():
                if alerts and alert not in alerts:
                    continue
                closure = rule_closure(deployed, alert)
                score = AlertScore(env, alert)
                scores.append(score)
                if not any("alert" in rule for g in closure for rule in g.rules):
                    score.baseline_ok, score.baseline_output = False, f"no alerting rule {alert} deployed"
                    continue
                _prepare(run, score, paths, closure, work, (units or {}).get((env, alert), ()))
                progress.advance(f"{env}/{alert}")
        progress.start(sum(len(b.scenarios) for b in run.baselines), "baseline scenarios")
        run_promtool(run.baselines, jobs, timeout, max_files=24, progress=progress)
        _run_stages(run.pending, jobs, timeout, progress)
    for copy, original in run.shared:
        for mine, theirs in zip(copy.mutants, original.mutants, strict=True):
            if mine.status == "pending":
                mine.status, mine.killed_by, mine.result = theirs.status, theirs.killed_by, theirs.result
                mine.explanation = theirs.explanation
    caught_elsewhere(scores)
    for score in scores:
        failing = [b for b in score.baselines if not b.ok]
        if failing:
            score.baseline_ok, score.baseline_output = False, "\n".join(b.output for b in failing)
    return MutationReport(scores)
