"""`rulesgen test`: run the generated promtool tests, check coverage, report per alert.

promtool takes many test files per process, so the files are split into one batch
per core, balanced by size, and the batches run in parallel.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import yaml

from rulesgen.promql import Duration
from rulesgen.verify import tool

# libyaml where available: the test files of a large spec run to megabytes.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
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
    cost: int = 0  # rule evaluations promtool will do, to balance batches
    failed: list[str] = field(default_factory=list)
    output: str = ""
    ok: bool = True

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


@dataclass
class Report:
    results: list[AlertResult]
    untested: list[tuple[str, str]]  # (env, alert) with rules but no tests
    routes: list[RouteResult] = field(default_factory=list)
    config_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.untested
            and not self.config_errors
            and all(r.ok and r.covered for r in self.results)
            and all(r.ok for r in self.routes)
        )


def _describe(env: str, path: Path) -> AlertResult:
    doc = yaml.load(path.read_text(), Loader=_LOADER)
    tests = doc.get("tests") or []
    expectations = [case["exp_alerts"] for test in tests for case in test.get("alert_rule_test") or []]
    interval = Duration.parse(doc.get("evaluation_interval", "1m")).ms
    rules = sum(
        len(group.get("rules") or [])
        for rule_file in doc.get("rule_files") or []
        for group in (yaml.load((path.parent / rule_file).read_text(), Loader=_LOADER) or {}).get("groups") or []
    )
    evaluations = sum(
        max((Duration.parse(c["eval_time"]).ms for c in test.get("alert_rule_test") or []), default=0) // interval + 1
        for test in tests
    )
    return AlertResult(
        env=env,
        alert=path.name.removesuffix(".test.yml"),
        file=path,
        scenarios=[test.get("name", "") for test in tests],
        fires=any(expectations),
        silent=any(not e for e in expectations),
        cost=evaluations * max(rules, 1),
    )


def _alerts_with_rules(env_dir: Path) -> set[str]:
    names: set[str] = set()
    for path in sorted((env_dir / "prometheus").glob("*.yml")):
        for group in (yaml.load(path.read_text(), Loader=_LOADER) or {}).get("groups") or []:
            names.update(rule["alert"] for rule in group.get("rules") or [] if "alert" in rule)
    return names


def _batches(results: list[AlertResult], jobs: int) -> list[list[AlertResult]]:
    """Costliest files first onto the least loaded batch."""
    batches: list[list[AlertResult]] = [[] for _ in range(max(jobs, 1))]
    loads = [0] * len(batches)
    for result in sorted(results, key=lambda r: (-r.cost, str(r.file))):
        i = loads.index(min(loads))
        batches[i].append(result)
        loads[i] += result.cost
    return [b for b in batches if b]


def _run_batch(promtool: str, batch: list[AlertResult], timeout: float) -> None:
    proc = subprocess.run(
        [promtool, "test", "rules", *(str(r.file) for r in batch)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    text = proc.stdout + proc.stderr
    blocks = _BLOCK.split(text)
    by_file = {str(r.file): r for r in batch}
    # split() yields [preamble, file1, body1, file2, body2, ...]
    for name, body in zip(blocks[1::2], blocks[2::2], strict=True):
        result = by_file.get(name.strip())
        if result is None:
            continue
        result.output = body.strip()
        if "SUCCESS" not in body:
            result.ok = False
            result.failed = sorted({n.split("/", 1)[-1] for n in _FAILED_NAME.findall(body)}) or ["(file)"]
    if proc.returncode != 0 and all(r.ok for r in batch):
        for r in batch:  # promtool failed without saying which file: blame the batch
            r.ok, r.output = False, text.strip()


def run_tests(output: Path, envs: list[str] | None = None, jobs: int | None = None, timeout: float = 600) -> Report:
    """Run every generated test under `output/<env>/tests/` (all environments by default)."""
    promtool = tool("promtool")
    env_dirs = sorted(p for p in output.iterdir() if p.is_dir() and (p / "prometheus").is_dir())
    if envs:
        env_dirs = [p for p in env_dirs if p.name in envs]
    results: list[AlertResult] = []
    untested: list[tuple[str, str]] = []
    for env_dir in env_dirs:
        found = [_describe(env_dir.name, p) for p in sorted((env_dir / "tests").glob("*.test.yml"))]
        results.extend(found)
        tested = {r.alert for r in found}
        untested.extend((env_dir.name, a) for a in sorted(_alerts_with_rules(env_dir) - tested))
    batches = _batches(results, jobs or os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=len(batches) or 1) as pool:
        for future in [pool.submit(_run_batch, promtool, b, timeout) for b in batches]:
            future.result()
    return Report(results, untested)


def verify_routing(spec_path: Path, output: Path, envs: list[str] | None) -> tuple[list[RouteResult], list[str]]:
    """`amtool check-config` on every config, and `amtool config routes test` for every
    alert rule against the receiver the spec says it must reach."""
    from rulesgen.lower.routing import expected_receiver
    from rulesgen.pipeline import compile_spec
    from rulesgen.spec.validate import load_spec

    amtool = tool("amtool")
    spec = load_spec(spec_path)
    program = compile_spec(spec, tests=False)
    config_errors: list[str] = []
    jobs: list[tuple[RouteResult, list[str]]] = []
    for env in program.envs:
        if envs and env.env not in envs:
            continue
        config = output / env.env / "alertmanager" / "alertmanager.yml"
        proc = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            config_errors.append(f"{config}: {(proc.stdout + proc.stderr).strip()}")
            continue
        for compiled in env.alerts:
            for rule in compiled.rules:
                labels = {"alertname": rule.alert, **dict(rule.labels)}
                expected = expected_receiver(spec, env.env, labels)
                args = [amtool, "config", "routes", "test", f"--config.file={config}", f"--verify.receivers={expected}"]
                args += [f"{k}={json.dumps(v)}" for k, v in sorted(labels.items())]
                jobs.append((RouteResult(env.env, rule.alert, labels, expected, True), args))

    def run(job: tuple[RouteResult, list[str]]) -> None:
        result, args = job
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        result.ok = proc.returncode == 0
        result.output = (proc.stdout + proc.stderr).strip()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(run, jobs))
    return [r for r, _ in jobs], config_errors


def format_report(report: Report) -> str:
    """A per-alert table, then promtool's explanation of every failure."""
    lines = [f"{'env':<10} {'alert':<40} {'scenarios':>9} {'passed':>6} {'failed':>6}  coverage"]
    for r in report.results:
        failed = len(r.failed) if not r.ok else 0
        coverage = "ok" if r.covered else ("no firing scenario" if not r.fires else "no silent scenario")
        lines.append(
            f"{r.env:<10} {r.alert:<40} {len(r.scenarios):>9} {len(r.scenarios) - failed:>6} {failed:>6}  {coverage}"
        )
    for env, alert in report.untested:
        lines.append(f"{env:<10} {alert:<40} {0:>9} {0:>6} {0:>6}  no tests")
    if report.routes:
        routed = sum(route.ok for route in report.routes)
        lines.append(f"\nrouting: {routed} of {len(report.routes)} alert rules reach their receiver (amtool)")
    for route in report.routes:
        if not route.ok:
            lines.append(
                f"--- {route.env}/{route.alert} {route.labels} should reach {route.expected}; amtool says:\n{route.output}"
            )
    for error in report.config_errors:
        lines.append(f"--- amtool check-config failed: {error}")
    for r in report.results:
        if not r.ok:
            lines.append(f"\n--- {r.env}/{r.alert} failed ({', '.join(r.failed)}); promtool says:\n{r.output}")
    total = sum(len(r.scenarios) for r in report.results)
    failed = sum(len(r.failed) for r in report.results if not r.ok)
    lines.append(f"\n{len(report.results)} alerts, {total - failed} passed, {failed} failed")
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
                if not r.ok and (name in r.failed or "(file)" in r.failed):
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
