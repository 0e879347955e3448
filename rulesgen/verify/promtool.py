"""promtool as the judge of the generated unit tests: one alert's test file becomes a
run file pointing at a rule file of its closure, and the run files go through a pool of
promtool processes (one per worker) in batches of bounded estimated cost, each batch
under its own `--timeout`.

promtool names each file it tests and says whether it passed; a file it never names was
not judged, and counts as failed."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rulesgen import children
from rulesgen.conventions import alert_of
from rulesgen.progress import SILENT, Progress, label
from rulesgen.verify.batches import budget, estimate, plan
from rulesgen.verify.closure import ClosureGroup, closure_document
from rulesgen.verify.deployed import load_yaml
from rulesgen.verify.tools import tool

_BLOCK = re.compile(r"^Unit Testing:\s+(.+)$", re.M)
_FAILED_NAME = re.compile(r"^\s*name: (.+?),\s*$", re.M)


@dataclass
class AlertResult:
    """The generated tests of one alert in one environment."""

    env: str
    alert: str
    file: Path
    scenarios: list[str]
    fires: bool  # at least one scenario expects the alert firing
    silent: bool  # at least one scenario expects it silent
    cost: int = 0  # estimated promtool CPU microseconds (batches.estimate), to size batches
    failed: list[str] = field(default_factory=list)
    output: str = ""
    ok: bool = True
    run_file: Path | None = None  # the temporary copy promtool runs, with its rule_files
    rule_sources: list[str] = field(default_factory=list)  # deployed files the rules came from
    shared_with: str = ""  # the environment whose promtool run judged this file (verify/sharing.py)
    passed_before: bool = False  # passed against the same rules and promtool: not run again (verify/verdicts.py)

    @property
    def covered(self) -> bool:
        return self.fires and self.silent

    def fail(self, reason: str, output: str) -> None:
        self.ok, self.failed, self.output = False, [reason], output


def read_test(path: Path) -> dict[str, Any]:
    return parse_test(path.read_text())


def parse_test(text: str) -> dict[str, Any]:
    doc = load_yaml(text)
    return doc if isinstance(doc, dict) else {}


def describe(env: str, path: Path, doc: Mapping[str, Any], rules: int) -> AlertResult:
    """What one test file holds, and what it costs to run against `rules` rules."""
    tests = doc.get("tests") or []
    expectations = [case["exp_alerts"] for test in tests for case in test.get("alert_rule_test") or []]
    return AlertResult(
        env=env,
        alert=alert_of(path.name),
        file=path,
        scenarios=[test.get("name", "") for test in tests],
        fires=any(expectations),
        silent=any(not e for e in expectations),
        cost=estimate(doc, rules),
    )


def _json(doc: Any) -> str:
    """JSON is valid YAML and much faster to write than block YAML; non-ASCII stays raw
    as in the generated files (escaped astral characters would be split in two)."""
    return json.dumps(doc, ensure_ascii=False)


def write_run_files(
    doc: Mapping[str, Any], closure: list[ClosureGroup], directory: Path, stem: str
) -> tuple[Path, Path]:
    """A rule file of `closure` and a copy of the test `doc` pointing at it, in `directory`."""
    interval = str(doc.get("evaluation_interval", "1m"))
    rules = directory / f"{stem}.rules.json"
    rules.write_text(_json(closure_document(closure, interval)))
    test = directory / f"{stem}.test.json"
    test.write_text(_json({**doc, "rule_files": [str(rules)]}))
    return rules, test


# `promtool test rules` evaluates a file's scenarios in one goroutine while Go's
# defaults collect garbage on every core, often: on the burn rate's test file that was
# a third of its CPU (28 to 30 s by default, 19 to 20 s with these; 180 MB against 133
# MB, wall time no longer). The pool already runs one promtool per worker. A value set
# in rulesgen's own environment wins.
GO_RUNTIME = {"GOMAXPROCS": "1", "GOGC": "200"}


def promtool_env() -> dict[str, str]:
    """The environment `promtool test rules` runs in."""
    return {**GO_RUNTIME, **os.environ}


def _run_batch(promtool: str, batch: list[AlertResult], timeout: float) -> None:
    runs = {str(r.run_file or r.file): r for r in batch}
    # One pipe for both streams: promtool names each file on stdout but writes its
    # failures to stderr, and only their interleaving says which failure is whose.
    proc = children.run([promtool, "test", "rules", *runs], timeout, merge=True, env=promtool_env())
    if proc.timed_out:
        for r in batch:
            r.fail("(timeout)", f"promtool did not finish within {timeout:g}s (--timeout)")
        return
    text = proc.stdout
    blocks = _BLOCK.split(text)
    judged: set[str] = set()
    # split() yields [preamble, file1, body1, file2, body2, ...]
    for name, body in zip(blocks[1::2], blocks[2::2], strict=True):
        result = runs.get(name.strip())
        if result is None:
            continue
        judged.add(name.strip())
        result.output = body.strip()
        if result.run_file is not None:  # name the committed test, not the temporary copy
            result.output = result.output.replace(str(result.run_file), str(result.file))
        if not children.said_success(body):
            result.ok = False
            result.failed = sorted({n.split("/", 1)[-1] for n in _FAILED_NAME.findall(body)}) or ["(file)"]
    said = text.strip() or "(no output)"
    for name, r in runs.items():
        if name not in judged:  # promtool never reported on this file: it judged nothing
            r.ok, r.failed = False, ["(no verdict)"]
            r.output = f"promtool exited {proc.returncode} without a verdict on this file; it printed:\n{said}"
    if proc.returncode != 0 and all(r.ok for r in batch):
        # promtool failed without saying which file: blame the batch
        for r in batch:
            r.fail(f"(promtool exit {proc.returncode})", said)


def batches(results: list[AlertResult], workers: int, timeout: float, max_files: int = 0) -> list[list[AlertResult]]:
    """The batches `run_promtool` runs, costliest first."""
    ordered = sorted(results, key=lambda r: (str(r.file), str(r.run_file)))
    return plan(ordered, lambda r: r.cost, workers, budget(timeout), max_files)


def run_promtool(
    results: list[AlertResult], jobs: int, timeout: float = 600, max_files: int = 0, progress: Progress = SILENT
) -> None:
    """Run every result's test file with promtool, `jobs` processes at a time, and record
    the verdicts. `timeout` bounds each promtool process (a batch), and batches are sized
    to take a small share of it. `max_files` > 0 also caps the files per process on
    average. `progress` advances by a batch's scenarios as it ends."""
    if not results:
        return
    promtool = tool("promtool")
    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        running = {pool.submit(_run_batch, promtool, b, timeout): b for b in batches(results, jobs, timeout, max_files)}
        for future in as_completed(running):
            future.result()
            batch = running[future]
            progress.advance(label(f"{r.env}/{r.alert}" for r in batch), sum(len(r.scenarios) for r in batch))
