"""`rulesgen test`'s unit tests: every generated test of `output/<env>/tests/` run by
promtool against the rules deployed in `output/<env>/prometheus/`.

The committed test files name no rule files. For every alert the suite takes, from the
environment's deployed rule files, the alert's rule closure, writes it to a temporary
rule file and runs promtool on a temporary copy of the test that points at it. A hand
edit of a deployed rule is therefore judged by the tests, exactly as Prometheus would
load it. An alert deployed without tests is a coverage gap."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection
from pathlib import Path

from rulesgen.conventions import TEST_SUFFIX, TESTS_DIR, alert_of
from rulesgen.progress import SILENT, Progress
from rulesgen.verify.closure import has_alerting_rule, rule_closure
from rulesgen.verify.deployed import DeployedGroup, alerts_of, environments, load_groups
from rulesgen.verify.promtool import AlertResult, describe, read_test, run_promtool, write_run_files
from rulesgen.verify.report import Report
from rulesgen.verify.tools import tool


def _prepare(env: str, path: Path, deployed: list[DeployedGroup], work: Path) -> AlertResult:
    """One test file described, and its run file written when its alert is deployed."""
    alert = alert_of(path.name)
    doc = read_test(path)
    closure = rule_closure(deployed, alert)
    result = describe(env, path, doc, sum(len(g.rules) for g in closure))
    result.rule_sources = sorted({str(g.file) for g in closure})
    if not has_alerting_rule(closure):
        result.fail("(no deployed rule)", f"no alerting rule {alert} in {path.parent.parent / 'prometheus'}")
    else:
        _, result.run_file = write_run_files(doc, closure, work, path.name.removesuffix(TEST_SUFFIX))
    return result


def run_tests(
    output: Path,
    envs: list[str] | None = None,
    jobs: int | None = None,
    timeout: float = 600,
    progress: Progress = SILENT,
    alerts: Collection[str] = (),
) -> Report:
    """Run every generated test under `output/<env>/tests/` (all environments by default;
    only those of `alerts` when given) against the rules deployed in `output/<env>/prometheus/`,
    `jobs` promtool processes at a time (default: one per core), each batch of test
    files within `timeout` seconds."""
    tool("promtool")  # missing promtool is exit 2 before any work
    progress.start(0, "reading the tests")
    results: list[AlertResult] = []
    untested: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="rulesgen-test-") as tmp:
        for env in environments(output):
            if envs and env not in envs:
                continue
            deployed = load_groups(output / env)
            work = Path(tmp) / env
            work.mkdir()
            found = [
                _prepare(env, path, deployed, work)
                for path in sorted((output / env / TESTS_DIR).glob(f"*{TEST_SUFFIX}"))
                if not alerts or alert_of(path.name) in alerts
            ]
            results.extend(found)
            tested = {r.alert for r in found}
            wanted = alerts_of(deployed) & set(alerts or alerts_of(deployed))
            untested.extend((env, a) for a in sorted(wanted - tested))
        runnable = [r for r in results if r.run_file is not None]
        progress.start(sum(len(r.scenarios) for r in runnable), "promtool scenarios")
        run_promtool(runnable, jobs or os.cpu_count() or 2, timeout, progress=progress)
    return Report(results, untested)
