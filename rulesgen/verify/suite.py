"""`rulesgen test`'s unit tests: every generated test of `output/<env>/tests/` run by
promtool against the rules deployed in `output/<env>/prometheus/`.

The committed test files name no rule files. For every alert the suite takes, from the
environment's deployed rule files, the alert's rule closure, writes it to a temporary
rule file and runs promtool on a temporary copy of the test that points at it. A hand
edit of a deployed rule is therefore judged by the tests, exactly as Prometheus would
load it. An alert deployed without tests is a coverage gap.

A file whose rules and test are an earlier environment's but for static labels and
annotations shares that environment's run (verify/sharing.py says why that is sound):
promtool runs it only when the shared run failed."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rulesgen.conventions import TEST_SUFFIX, alert_of
from rulesgen.progress import SILENT, Progress
from rulesgen.verify.closure import ClosureGroup, has_alerting_rule, rule_closure
from rulesgen.verify.deployed import DeployedGroup, alerts_of, tested_environments
from rulesgen.verify.promtool import AlertResult, describe, parse_test, run_promtool, write_run_files
from rulesgen.verify.report import Report
from rulesgen.verify.sharing import StaticCheck, check_static, signature, substitution
from rulesgen.verify.tools import tool
from rulesgen.verify.verdicts import passed_before, promtool_identity, remember_pass, verdict_key


@dataclass
class _Prepared:
    """A test file described, with what deciding whether it shares a run needs."""

    result: AlertResult
    doc: dict[str, Any]
    closure: list[ClosureGroup]
    verdict: str = ""  # the key its pass is remembered by (verify/verdicts.py)


def _prepare(env: str, path: Path, deployed: list[DeployedGroup], work: Path, promtool: str = "") -> _Prepared:
    """One test file described, and its run file written when its alert is deployed;
    `promtool` (its identity) keys a pass to remember, none: nothing is remembered."""
    alert = alert_of(path.name)
    # Read once: a pass is remembered by the text the run file is made from.
    text = path.read_bytes()
    doc = parse_test(text.decode())
    closure = rule_closure(deployed, alert)
    result = describe(env, path, doc, sum(len(g.rules) for g in closure))
    result.rule_sources = sorted({str(g.file) for g in closure})
    if not has_alerting_rule(closure):
        result.fail("(no deployed rule)", f"no alerting rule {alert} in {path.parent.parent / 'prometheus'}")
        return _Prepared(result, doc, closure)
    rules, result.run_file = write_run_files(doc, closure, work, path.name.removesuffix(TEST_SUFFIX))
    return _Prepared(result, doc, closure, verdict_key(promtool, rules.read_bytes(), text) if promtool else "")


def _run_once(
    runs: list[_Prepared], workers: int, timeout: float, progress: Progress, what: str = "promtool scenarios"
) -> None:
    """promtool on the files that did not pass before with the same rules and promtool;
    the passes are remembered."""
    left = []
    for p in runs:
        p.result.passed_before = bool(p.verdict) and passed_before(p.verdict)
        if not p.result.passed_before:
            left.append(p)
    progress.start(sum(len(p.result.scenarios) for p in left), what)
    run_promtool([p.result for p in left], workers, timeout, progress=progress)
    for p in left:
        if p.result.ok and p.verdict:
            remember_pass(p.verdict)


@dataclass
class _Share:
    """A file judged by another environment's run and the check of its static part."""

    mine: _Prepared
    theirs: _Prepared
    check: StaticCheck


def _plan_sharing(prepared: list[_Prepared]) -> tuple[list[_Prepared], list[_Share]]:
    """The files promtool runs, and those that share the run of an earlier file (an
    earlier environment's) whose rules and test differ only in static labels."""
    runs: list[_Prepared] = []
    shares: list[_Share] = []
    first: dict[str, _Prepared] = {}
    for p in prepared:
        if p.result.run_file is None:
            continue
        key = signature(p.closure, p.doc)
        theirs = first.setdefault(key, p)
        sub = substitution(p.closure, theirs.closure) if theirs is not p else None
        check = check_static(p.doc, theirs.doc, sub) if sub is not None else None
        if check is None:
            runs.append(p)
        else:
            shares.append(_Share(p, theirs, check))
    return runs, shares


def _judge_shared(shares: list[_Share]) -> list[_Prepared]:
    """Verdicts of the shared files whose partner's run passed; the others' files, which
    promtool must run (a failed run says nothing about what the partner got)."""
    left: list[_Prepared] = []
    for share in shares:
        mine, theirs = share.mine.result, share.theirs.result
        if not theirs.ok:
            left.append(share.mine)
            continue
        mine.shared_with = theirs.env
        if share.check.failed:
            mine.ok, mine.failed = False, share.check.failed
            mine.output = (
                f"{theirs.env}'s run of the same rules and scenarios passed; {mine.env}'s rules differ from them "
                f"only in static labels and annotations, which give alerts other than {mine.file.name} expects:\n"
                f"{share.check.output}"
            )
    return left


def run_tests(
    output: Path,
    envs: list[str] | None = None,
    jobs: int | None = None,
    timeout: float = 600,
    progress: Progress = SILENT,
    alerts: Collection[str] = (),
    run: bool = True,
) -> Report:
    """Run every generated test under `output/<env>/tests/` (all environments by default;
    only those of `alerts` when given) against the rules deployed in `output/<env>/prometheus/`,
    `jobs` promtool processes at a time (default: one per core), each batch of test
    files within `timeout` seconds. `run=False` is the coverage gate alone, read from the
    test files (every deployed alert has tests with a firing and a silent scenario):
    promtool is neither run nor needed."""
    # A missing promtool is exit 2 before any work.
    promtool = promtool_identity(tool("promtool"), timeout) if run else ""
    progress.start(0, "reading the tests")
    prepared: list[_Prepared] = []
    untested: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="rulesgen-test-") as tmp:
        for env, deployed, tests in tested_environments(output, envs):
            work = Path(tmp) / env
            work.mkdir()
            found = [
                _prepare(env, path, deployed, work, promtool)
                for path in tests
                if not alerts or alert_of(path.name) in alerts
            ]
            prepared.extend(found)
            tested = {p.result.alert for p in found}
            wanted = alerts_of(deployed) & set(alerts or alerts_of(deployed))
            untested.extend((env, a) for a in sorted(wanted - tested))
        if not run:
            return Report([p.result for p in prepared], untested, ran=False)
        runs, shares = _plan_sharing(prepared)
        workers = jobs or os.cpu_count() or 2
        _run_once(runs, workers, timeout, progress)
        left = _judge_shared(shares)
        if left:
            _run_once(left, workers, timeout, progress, "promtool scenarios of shared runs that failed")
    return Report([p.result for p in prepared], untested)
