"""`rulesgen test`: run the generated promtool tests against the deployed rules.

The committed test files name no rule files. For every alert the runner takes, from
the environment's deployed rule files (`<env>/prometheus/*.rules.yml`), the alert's
alerting rules and the recording rules they read, transitively, writes them to a
temporary rule file and runs promtool on a temporary copy of the test that points at
it. A hand edit of a deployed rule is therefore judged by the tests, exactly as
Prometheus would load it.

promtool takes many test files per process, so the files are split into batches
balanced by their estimated promtool time, and the batches run in parallel.

Routing is checked by amtool once per distinct route input: the alert's labels that
the deployed Alertmanager configuration's route tree or inhibitions match on. Alerts
agreeing on those labels are routed alike, so one amtool verdict is every such
alert's verdict; each alert still gets its own entry in the report.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import yaml

from rulesgen import children
from rulesgen.progress import SILENT, Progress, label
from rulesgen.promql import Duration
from rulesgen.targets.promtool_tests import TEST_SUFFIX, alert_of
from rulesgen.verify import tool

# libyaml where available: the test files of a large spec run to megabytes.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BLOCK = re.compile(r"^Unit Testing:\s+(.+)$", re.M)
_FAILED_NAME = re.compile(r"^\s*name: (.+?),\s*$", re.M)
# Characters PyYAML refuses in a stream but Prometheus's YAML reader takes; generated
# files quote every string, so inside quotes they can be written as escapes instead.
# One Alertmanager matcher (`team="billing"`, `severity=~"crit.*"`); anything else,
# such as several comma-separated matchers in one string, is not parsed here.
_MATCHER = re.compile(r'\s*\{?\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*(?:"(?:[^"\\]|\\.)*"|[^",{}]*)\s*\}?\s*')
# promtool's cost model, measured on promtool 2.42 (CPU microseconds): a fixed cost per
# test group (a fresh TSDB, the rule file loaded), per rule per evaluation step, and per
# input sample loaded. Only the ratios matter: they balance the batches.
GROUP_US = 10_000
RULE_STEP_US = 100
SAMPLE_US = 1
_REPEAT = re.compile(r"x(\d+)$")
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
RULE_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class DeployedGroup:
    """One rule group as deployed, its rules as the YAML mappings Prometheus reads."""

    file: Path
    name: str
    rules: tuple[dict[str, Any], ...]
    interval: str | None = None  # the group's `interval`, when it sets one


@dataclass(frozen=True)
class ClosureGroup:
    """The part of one deployed group an alert needs: its alerting rules and the
    recording rules they read, in deployed order."""

    name: str
    file: Path
    rules: tuple[dict[str, Any], ...]
    interval: str | None = None  # how often Prometheus evaluates the deployed group


def load_yaml(text: str) -> Any:
    """YAML as promtool reads it, also when a quoted string holds a non-printable character."""
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.reader.ReaderError:
        return yaml.load(_NON_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text), Loader=_LOADER)


def _json(doc: Any) -> str:
    """JSON is valid YAML and much faster to write than block YAML; non-ASCII stays raw
    as in the generated files (escaped astral characters would be split in two)."""
    return json.dumps(doc, ensure_ascii=False)


def load_deployed(env_dir: Path) -> list[DeployedGroup]:
    """Every rule group of `env_dir/prometheus/`, files in name order."""
    directory = env_dir / "prometheus"
    if not directory.is_dir():
        return []
    groups: list[DeployedGroup] = []
    for path in sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in RULE_SUFFIXES):
        doc = load_yaml(path.read_text()) or {}
        for group in doc.get("groups") or []:
            interval = group.get("interval")
            groups.append(
                DeployedGroup(
                    path,
                    str(group.get("name", "")),
                    tuple(group.get("rules") or ()),
                    None if interval is None else str(interval),
                )
            )
    return groups


def selector_names(expr: str) -> set[str]:
    """Metric names an expression reads; empty when it does not parse (promtool will say why)."""
    import promql_parser

    try:
        ast = promql_parser.parse(expr)
    except Exception:  # the parser raises plain exceptions
        return set()
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__" and matcher.op == promql_parser.MatchOp.Equal:
                    names.add(matcher.value)

    promql_parser.walk(ast, visit)
    return names


def rule_closure(groups: Iterable[DeployedGroup], alert: str) -> list[ClosureGroup]:
    """The alerting rules named `alert` and every recording rule they depend on.

    Rules keep their deployed order and group, so recording rules are evaluated
    before the rules reading them exactly when Prometheus would do so."""
    groups = list(groups)
    records: dict[str, list[tuple[int, int]]] = {}
    for g, group in enumerate(groups):
        for r, rule in enumerate(group.rules):
            if "record" in rule:
                records.setdefault(str(rule["record"]), []).append((g, r))
    wanted = {
        (g, r) for g, group in enumerate(groups) for r, rule in enumerate(group.rules) if rule.get("alert") == alert
    }
    pending = [str(groups[g].rules[r].get("expr", "")) for g, r in sorted(wanted)]
    followed: set[str] = set()
    while pending:
        for name in sorted(selector_names(pending.pop())):
            if name in records and name not in followed:
                followed.add(name)
                for g, r in records[name]:
                    wanted.add((g, r))
                    pending.append(str(groups[g].rules[r].get("expr", "")))
    closure: list[ClosureGroup] = []
    for g, group in enumerate(groups):
        rules = tuple(rule for r, rule in enumerate(group.rules) if (g, r) in wanted)
        if rules:
            closure.append(ClosureGroup(group.name, group.file, rules, group.interval))
    return closure


def closure_document(closure: Iterable[ClosureGroup], interval: str) -> dict[str, Any]:
    """A rule file of the closure, every group evaluated every `interval`.

    promtool evaluates all groups at the test's `evaluation_interval` anyway; giving
    the groups the same interval keeps the semantics of the per-alert rule files
    the tests were generated with."""
    return {"groups": [{"name": g.name, "interval": interval, "rules": list(g.rules)} for g in closure]}


@dataclass
class AlertResult:
    """The generated tests of one alert in one environment."""

    env: str
    alert: str
    file: Path
    scenarios: list[str]
    fires: bool  # at least one scenario expects the alert firing
    silent: bool  # at least one scenario expects it silent
    cost: int = 0  # estimated promtool CPU microseconds (GROUP_US, ...), to balance batches
    failed: list[str] = field(default_factory=list)
    output: str = ""
    ok: bool = True
    run_file: Path | None = None  # the temporary copy promtool runs, with its rule_files
    rule_sources: list[str] = field(default_factory=list)  # deployed files the rules came from

    @property
    def covered(self) -> bool:
        return self.fires and self.silent


@dataclass
class RouteResult:
    """amtool's verdict on where one alert rule's labels are routed."""

    env: str
    alert: str
    labels: dict[str, str]
    expected: str
    ok: bool
    output: str = ""
    actual: list[str] = field(default_factory=list)
    # The labels routing depends on (None: all of them), and how many alert rules shared
    # the one amtool call that judged this one.
    route_input: dict[str, str] | None = None
    shared: int = 1


@dataclass
class Report:
    results: list[AlertResult]
    untested: list[tuple[str, str]]  # (env, alert) with rules but no tests
    routes: list[RouteResult] = field(default_factory=list)
    config_errors: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)  # deployed rule files unlike what generate writes

    @property
    def ok(self) -> bool:
        return (
            not self.untested
            and not self.config_errors
            and not self.edited
            and all(r.ok and r.covered for r in self.results)
            and all(r.ok for r in self.routes)
        )


def read_test(path: Path) -> dict[str, Any]:
    doc = load_yaml(path.read_text())
    return doc if isinstance(doc, dict) else {}


def input_samples(tests: Iterable[Mapping[str, Any]]) -> int:
    """Samples promtool loads for the test groups, from promtool's series notation
    (`1+2x10` is 11 samples, `_x5` is 5 gaps: cheap, but counted as not free)."""
    count = 0
    for test in tests:
        for series in test.get("input_series") or []:
            for token in str(series.get("values", "")).split():
                repeat = _REPEAT.search(token)
                count += (int(repeat.group(1)) + (not token.startswith("_"))) if repeat else 1
    return count


def describe(env: str, path: Path, doc: Mapping[str, Any], rules: int) -> AlertResult:
    """What one test file holds, and what it costs to run against `rules` rules."""
    tests = doc.get("tests") or []
    expectations = [case["exp_alerts"] for test in tests for case in test.get("alert_rule_test") or []]
    interval = Duration.parse(doc.get("evaluation_interval", "1m")).ms
    evaluations = sum(
        max((Duration.parse(c["eval_time"]).ms for c in test.get("alert_rule_test") or []), default=0) // interval + 1
        for test in tests
    )
    cost = GROUP_US * len(tests) + RULE_STEP_US * evaluations * max(rules, 1) + SAMPLE_US * input_samples(tests)
    return AlertResult(
        env=env,
        alert=alert_of(path.name),
        file=path,
        scenarios=[test.get("name", "") for test in tests],
        fires=any(expectations),
        silent=any(not e for e in expectations),
        cost=cost,
    )


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


def _alerts_with_rules(groups: Iterable[DeployedGroup]) -> set[str]:
    return {str(rule["alert"]) for group in groups for rule in group.rules if "alert" in rule}


def deployed_alerts(env_dir: Path) -> set[str]:
    """The alerts `env_dir/prometheus/` deploys."""
    return _alerts_with_rules(load_deployed(env_dir))


def _batches(results: list[AlertResult], count: int) -> list[list[AlertResult]]:
    """Costliest files first onto the least loaded batch."""
    batches: list[list[AlertResult]] = [[] for _ in range(max(count, 1))]
    loads = [0] * len(batches)
    for result in sorted(results, key=lambda r: (-r.cost, str(r.file), str(r.run_file))):
        i = loads.index(min(loads))
        batches[i].append(result)
        loads[i] += result.cost
    return [b for b in batches if b]


def _fail_all(batch: list[AlertResult], reason: str, output: str) -> None:
    for r in batch:
        r.ok, r.failed, r.output = False, [reason], output


def _run_batch(promtool: str, batch: list[AlertResult], timeout: float) -> None:
    runs = {str(r.run_file or r.file): r for r in batch}
    # One pipe for both streams: promtool names each file on stdout but writes its
    # failures to stderr, and only their interleaving says which failure is whose.
    proc = children.run([promtool, "test", "rules", *runs], timeout, merge=True)
    if proc.timed_out:
        _fail_all(batch, "(timeout)", f"promtool did not finish within {timeout:g}s (--timeout)")
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
        _fail_all(batch, f"(promtool exit {proc.returncode})", said)


# Batches per worker: a few more batches than workers let a worker that drew cheap
# batches (or a quiet core) take the next one, so an estimate that is off, or a
# neighbour's load on a shared machine, does not leave a core idle at the end. Each
# extra batch costs one promtool start (about 30 ms).
BATCHES_PER_JOB = 3


def run_promtool(
    results: list[AlertResult], jobs: int, timeout: float = 600, max_files: int = 0, progress: Progress = SILENT
) -> None:
    """Run every result's test file with promtool, `jobs` processes at a time, and record
    the verdicts. `max_files` > 0 caps the files per process, so one slow batch cannot
    hold back all the others. `progress` advances by a batch's scenarios as it ends."""
    if not results:
        return
    promtool = tool("promtool")
    count = min(max(jobs, 1) * BATCHES_PER_JOB, len(results))
    if max_files > 0:
        count = max(count, -(-len(results) // max_files))
    # Costliest batches first: the cheap ones fill the gaps at the end.
    batches = sorted(_batches(results, count), key=lambda b: -sum(r.cost for r in b))
    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        running = {pool.submit(_run_batch, promtool, b, timeout): b for b in batches}
        for future in as_completed(running):
            future.result()
            batch = running[future]
            progress.advance(label(f"{r.env}/{r.alert}" for r in batch), sum(len(r.scenarios) for r in batch))


def environments(output: Path) -> list[str]:
    """The environments `output/` holds: directories with deployed rules."""
    if not output.is_dir():
        return []
    return sorted(p.name for p in output.iterdir() if p.is_dir() and (p / "prometheus").is_dir())


def run_tests(
    output: Path,
    envs: list[str] | None = None,
    jobs: int | None = None,
    timeout: float = 600,
    progress: Progress = SILENT,
    alerts: Collection[str] = (),
) -> Report:
    """Run every generated test under `output/<env>/tests/` (all environments by default;
    only those of `alerts` when given) against the rules deployed in `output/<env>/prometheus/`."""
    tool("promtool")  # missing promtool is exit 2 before any work
    progress.start(0, "reading the tests")
    results: list[AlertResult] = []
    runnable: list[AlertResult] = []
    untested: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="rulesgen-test-") as tmp:
        for env in environments(output):
            if envs and env not in envs:
                continue
            env_dir = output / env
            deployed = load_deployed(env_dir)
            work = Path(tmp) / env
            work.mkdir()
            found: list[AlertResult] = []
            for path in sorted((env_dir / "tests").glob(f"*{TEST_SUFFIX}")):
                alert = alert_of(path.name)
                if alerts and alert not in alerts:
                    continue
                doc = read_test(path)
                closure = rule_closure(deployed, alert)
                result = describe(env, path, doc, sum(len(g.rules) for g in closure))
                result.rule_sources = sorted({str(g.file) for g in closure})
                found.append(result)
                if not any("alert" in rule for g in closure for rule in g.rules):
                    result.ok, result.failed = False, ["(no deployed rule)"]
                    result.output = f"no alerting rule {alert} in {env_dir / 'prometheus'}"
                    continue
                _, result.run_file = write_run_files(doc, closure, work, path.name.removesuffix(TEST_SUFFIX))
                runnable.append(result)
            results.extend(found)
            tested = {r.alert for r in found}
            deployed_alerts = _alerts_with_rules(deployed) & set(alerts or _alerts_with_rules(deployed))
            untested.extend((env, a) for a in sorted(deployed_alerts - tested))
        progress.start(sum(len(r.scenarios) for r in runnable), "promtool scenarios")
        run_promtool(runnable, jobs or os.cpu_count() or 2, timeout, progress=progress)
    return Report(results, untested)


@dataclass
class Freshness:
    """How `output/` differs from what `generate` would write, split by consequence."""

    stale: list[str] = field(default_factory=list)  # tests, routing, dashboards: the spec moved on
    edited: list[str] = field(default_factory=list)  # deployed rule files: run, and judged by the tests
    diff: str = ""


def freshness(output: Path, files: Mapping[str, bytes], envs: Iterable[str]) -> Freshness:
    """Compare the environments `envs` of `output/` with the generated `files`.

    A deployed rule file that differs is what the tests exist to judge, so it is
    reported as edited and still tested; any other difference means the spec changed
    without `rulesgen generate`, and the tests themselves would be out of date."""
    from rulesgen.writer import compare_tree

    prefixes = tuple(f"{env}/" for env in envs)
    drift = compare_tree(output, dict(files))
    result = Freshness(diff=drift.diff)
    for path in sorted({*drift.missing, *drift.extra, *drift.changed}):
        if not path.startswith(prefixes):
            continue
        if path.split("/")[1:2] == ["prometheus"]:
            result.edited.append(path)
        else:
            result.stale.append(path)
    return result


def _receivers(stdout: str) -> list[str]:
    """The receivers `amtool config routes test` resolved: its first plain output line."""
    for line in stdout.splitlines():
        if line.strip() and not line.lower().startswith("warning"):
            return [r.strip() for r in line.split(",") if r.strip()]
    return []


_ROUTE_MATCHER_KEYS = ("matchers", "match", "match_re")
_INHIBIT_MATCHER_KEYS = (
    "source_matchers",
    "target_matchers",
    "source_match",
    "target_match",
    "source_match_re",
    "target_match_re",
)


def _matcher_labels(value: Any) -> set[str] | None:
    """Label names of a `matchers` list (strings) or a `match`/`match_re` mapping; None
    when a matcher is not one plain `name op value`, so the caller cannot dedup safely."""
    if isinstance(value, Mapping):
        return {str(k) for k in value}
    names: set[str] = set()
    for item in value or ():
        found = _MATCHER.fullmatch(str(item))
        if found is None:
            return None
        names.add(found.group(1))
    return names


def routed_labels(config: Mapping[str, Any]) -> frozenset[str] | None:
    """The labels an Alertmanager configuration's route tree and inhibitions match on.

    `amtool config routes test` walks the route tree, which reads an alert's labels only
    through the routes' matchers: two label sets agreeing on these labels (present with
    the same value, or both absent) reach the same receivers. Inhibition labels are
    included too, so the alerts grouped under one amtool call are also alike for what
    mutes them. None when the configuration holds a matcher this function does not
    parse: then every label counts and nothing is shared."""
    names: set[str] = set()
    pending: list[Any] = [config.get("route") or {}]
    while pending:
        route = pending.pop()
        found = _block_labels(route, _ROUTE_MATCHER_KEYS)
        if found is None:
            return None
        names |= found
        pending.extend(route.get("routes") or ())
    for rule in config.get("inhibit_rules") or ():
        found = _block_labels(rule, _INHIBIT_MATCHER_KEYS)
        if found is None:
            return None
        names |= found | {str(label) for label in rule.get("equal") or ()}
    return frozenset(names)


def _block_labels(block: Any, keys: Iterable[str]) -> set[str] | None:
    """Label names the matchers under `keys` of one route or inhibit rule name; None
    when the block is not a mapping or holds a matcher `_matcher_labels` cannot read."""
    if not isinstance(block, Mapping):
        return None
    names: set[str] = set()
    for key in keys:
        if key in block:
            found = _matcher_labels(block[key])
            if found is None:
                return None
            names |= found
    return names


def route_input(labels: Mapping[str, str], routed: frozenset[str] | None) -> tuple[tuple[str, str | None], ...]:
    """The part of `labels` routing depends on; an absent label is part of it too."""
    if routed is None:
        return tuple(sorted(labels.items()))
    return tuple((name, labels.get(name)) for name in sorted(routed))


def verify_routing(
    spec_path: Path,
    output: Path,
    envs: list[str] | None,
    timeout: float = 600,
    progress: Progress = SILENT,
    alerts: Collection[str] = (),
) -> tuple[list[RouteResult], list[str]]:
    """`amtool check-config` on every config, and `amtool config routes test` for every
    alert rule against the receiver the spec says it must reach.

    amtool tests one label set per call, and an alert's receiver depends only on the
    labels the configuration routes on (`routed_labels`), so alert rules with the same
    route input and the same expected receiver share one call: with 500 alerts about
    40 calls instead of 1,500. Its verdict and words are copied to every alert rule
    that shared it."""
    from rulesgen.lower.routing import expected_receiver
    from rulesgen.pipeline import compile_spec
    from rulesgen.spec.validate import load_spec

    amtool = tool("amtool")
    progress.start(0, "routing: amtool check-config")
    spec = load_spec(spec_path)
    program = compile_spec(spec, tests=False)
    config_errors: list[str] = []
    results: list[RouteResult] = []
    calls: dict[tuple[str, tuple[tuple[str, str | None], ...], str], list[RouteResult]] = {}
    for env in program.envs:
        if envs and env.env not in envs:
            continue
        config = output / env.env / "alertmanager" / "alertmanager.yml"
        checked = children.run([amtool, "check-config", str(config)], timeout)
        if checked.returncode != 0 or not children.said_success(checked.stdout):
            config_errors.append(f"{config}: {_tool_failure('amtool check-config', checked)}")
            continue
        loaded = load_yaml(config.read_text())
        routed = routed_labels(loaded) if isinstance(loaded, Mapping) else None
        for compiled in env.alerts:
            if alerts and compiled.name not in alerts:
                continue
            for rule in compiled.rules:
                labels = {"alertname": rule.alert, **dict(rule.labels)}
                expected = expected_receiver(spec, env.env, labels)
                key = route_input(labels, routed)
                result = RouteResult(env.env, rule.alert, labels, expected, True)
                result.route_input = {k: v for k, v in key if v is not None} if routed is not None else None
                results.append(result)
                calls.setdefault((str(config), key, expected), []).append(result)

    def run(call: tuple[tuple[str, tuple[tuple[str, str | None], ...], str], list[RouteResult]]) -> None:
        (config, _, expected), shared = call
        # The first alert rule's whole label set: amtool sees a real alert's labels.
        labels = shared[0].labels
        args = [amtool, "config", "routes", "test", f"--config.file={config}", f"--verify.receivers={expected}"]
        args += [f"{k}={json.dumps(v)}" for k, v in sorted(labels.items())]
        proc = children.run(args, timeout)
        actual = _receivers(proc.stdout)
        # Exit 0 alone is no verdict: amtool must have named the receiver it resolved.
        ok = proc.returncode == 0 and sorted(actual) == sorted(expected.split(","))
        output = proc.output
        if not ok and (proc.timed_out or proc.returncode == 0 or not output):
            output = _tool_failure("amtool config routes test", proc)
        for result in shared:
            result.ok = ok
            result.output = output
            result.actual = actual
            result.shared = len(shared)
        progress.advance(label(f"{r.env}/{r.alert}" for r in shared))

    progress.start(len(calls), "amtool routes")
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(run, calls.items()))
    return results, config_errors


def _tool_failure(what: str, proc: children.Completed) -> str:
    """What a tool run that gave no verdict did, in one message."""
    if proc.timed_out:
        return f"{what} did not finish within {proc.timeout:g}s (--timeout)"
    return f"{what} exited {proc.returncode} without its success line; it printed: {proc.output or '(nothing)'}"


def failed_scenarios(result: AlertResult) -> int:
    """Scenarios of a test file that did not pass: all of them when promtool judged the
    file as a whole (it crashed, timed out, or said nothing about it)."""
    if result.ok:
        return 0
    if any(f.startswith("(") for f in result.failed):
        return max(len(result.scenarios), 1)
    return len(result.failed)


def report_json(report: Report) -> dict[str, Any]:
    """The report for CI: failures carry promtool's and amtool's own words."""
    return {
        "ok": report.ok,
        "alerts": [
            {
                "env": r.env,
                "alert": r.alert,
                "file": str(r.file),
                "rules_from": r.rule_sources,
                "scenarios": len(r.scenarios),
                "failed": r.failed if not r.ok else [],
                "covered": r.covered,
                "promtool": r.output if not r.ok else "",
            }
            for r in report.results
        ],
        "untested": [{"env": e, "alert": a} for e, a in report.untested],
        "routes": [
            {
                "env": r.env,
                "alert": r.alert,
                "labels": r.labels,
                "receiver": r.expected,
                "expected": [r.expected],
                "actual": r.actual,
                "ok": r.ok,
                "amtool": r.output if not r.ok else "",
                "route_input": r.route_input,
                "amtool_call_shared_by": r.shared,
            }
            for r in report.routes
        ],
        "config_errors": report.config_errors,
        "edited_rule_files": report.edited,
    }


def format_report(report: Report) -> str:
    """A per-alert table, then promtool's explanation of every failure."""
    lines = [f"{'env':<10} {'alert':<48} {'scenarios':>9} {'passed':>6} {'failed':>6}  coverage"]
    for r in report.results:
        failed = failed_scenarios(r)
        coverage = "ok" if r.covered else ("no firing scenario" if not r.fires else "no silent scenario")
        # An alert's scenarios of another evaluation interval have a file of their own.
        name = r.file.name.removesuffix(TEST_SUFFIX).replace(".every-", " every ")
        lines.append(
            f"{r.env:<10} {name:<48} {len(r.scenarios):>9} {len(r.scenarios) - failed:>6} {failed:>6}  {coverage}"
        )
    for env, alert in report.untested:
        lines.append(f"{env:<10} {alert:<48} {0:>9} {0:>6} {0:>6}  no tests")
    if report.routes:
        routed = sum(route.ok for route in report.routes)
        lines.append(f"\nrouting: {routed} of {len(report.routes)} alert rules reach their receiver (amtool)")
    for route in report.routes:
        if not route.ok:
            actual = ", ".join(route.actual) or "nothing"
            lines.append(
                f"--- {route.env}/{route.alert} {route.labels} should reach {route.expected}, reaches {actual};"
                f" amtool says:\n{route.output}"
            )
    for error in report.config_errors:
        lines.append(f"--- amtool check-config failed: {error}")
    for r in report.results:
        if not r.ok:
            sources = f" (rules from {', '.join(r.rule_sources)})" if r.rule_sources else ""
            lines.append(f"\n--- {r.env}/{r.alert} failed ({', '.join(r.failed)}){sources}; promtool says:\n{r.output}")
    for path in report.edited:
        lines.append(f"\n--- deployed rule file {path} differs from what `rulesgen generate` writes (edited by hand?)")
    total = sum(len(r.scenarios) for r in report.results)
    failed = sum(failed_scenarios(r) for r in report.results)
    alerts = len({(r.env, r.alert) for r in report.results})
    lines.append(f"\n{alerts} alerts, {total - failed} passed, {failed} failed")
    return "\n".join(lines)


def junit_xml(report: Report) -> bytes:
    """JUnit XML: a suite per environment, a case per scenario."""
    root = ElementTree.Element("testsuites", name="rulesgen")
    for env in sorted({r.env for r in report.results} | {e for e, _ in report.untested}):
        results = [r for r in report.results if r.env == env]
        suite = ElementTree.SubElement(root, "testsuite", name=f"rulesgen.{env}")
        count = failures = 0
        for r in results:
            for scenario in r.scenarios:
                count += 1
                name = scenario.split("/", 1)[-1]
                case = ElementTree.SubElement(suite, "testcase", classname=f"{env}.{r.alert}", name=name)
                whole_file = any(f.startswith("(") for f in r.failed)  # (file), (timeout), (no deployed rule)
                if not r.ok and (name in r.failed or whole_file):
                    failures += 1
                    ElementTree.SubElement(case, "failure", message="promtool test failed").text = r.output
            if not r.covered:
                count += 1
                failures += 1
                case = ElementTree.SubElement(suite, "testcase", classname=f"{env}.{r.alert}", name="coverage")
                ElementTree.SubElement(case, "failure", message="needs a firing and a silent scenario")
        for e, alert in report.untested:
            if e == env:
                count += 1
                failures += 1
                case = ElementTree.SubElement(suite, "testcase", classname=f"{env}.{alert}", name="coverage")
                ElementTree.SubElement(case, "failure", message="alert has no generated tests")
        suite.set("tests", str(count))
        suite.set("failures", str(failures))
    if report.routes or report.config_errors:
        suite = ElementTree.SubElement(root, "testsuite", name="rulesgen.routing")
        for route in report.routes:
            labels = ",".join(f"{k}={v}" for k, v in sorted(route.labels.items()) if k not in ("alertname", "env"))
            case = ElementTree.SubElement(
                suite, "testcase", classname=f"{route.env}.{route.alert}", name=f"routes to {route.expected} ({labels})"
            )
            if not route.ok:
                ElementTree.SubElement(case, "failure", message="amtool routes test failed").text = route.output
        for error in report.config_errors:
            case = ElementTree.SubElement(suite, "testcase", classname="alertmanager", name="check-config")
            ElementTree.SubElement(case, "failure", message="amtool check-config failed").text = error
        suite.set("tests", str(len(report.routes) + len(report.config_errors)))
        suite.set("failures", str(sum(not route.ok for route in report.routes) + len(report.config_errors)))
    ElementTree.indent(root)
    data: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
