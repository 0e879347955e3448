"""The report of `rulesgen test`: a per-alert table for people, JSON for CI, and JUnit
XML (a suite per environment, a case per scenario); failures carry promtool's and
amtool's own words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from rulesgen.conventions import TEST_SUFFIX
from rulesgen.verify.promtool import AlertResult
from rulesgen.verify.routing import RouteResult


@dataclass
class Report:
    results: list[AlertResult]
    untested: list[tuple[str, str]]  # (env, alert) with rules but no tests
    routes: list[RouteResult] = field(default_factory=list)
    config_errors: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)  # deployed rule files unlike what generate writes
    ran: bool = True  # False: the coverage gate alone (--coverage-only), promtool not run

    @property
    def ok(self) -> bool:
        return (
            not self.untested
            and not self.config_errors
            and not self.edited
            and all(r.ok and r.covered for r in self.results)
            and all(r.ok for r in self.routes)
        )


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
        "promtool_ran": report.ran,
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
                # The environment whose promtool run judged this file, its static labels
                # and annotations checked apart (verify/sharing.py); null: its own run.
                "shared_run_with": r.shared_with or None,
                # Passed before against the same rules with the same promtool: not run again.
                "passed_before": r.passed_before,
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
    lines = [f"{'env':<10} {'alert':<48} {'scenarios':>9} {'passed':>6} {'failed':>6}  coverage  run"]
    for r in report.results:
        failed = failed_scenarios(r)
        coverage = "ok" if r.covered else ("no firing scenario" if not r.fires else "no silent scenario")
        # An alert's scenarios of another evaluation interval have a file of their own.
        name = r.file.name.removesuffix(TEST_SUFFIX).replace(".every-", " every ")
        run = _run(r) if report.ran else "not run"
        passed, failing = (len(r.scenarios) - failed, failed) if report.ran else ("-", "-")
        lines.append(f"{r.env:<10} {name:<48} {len(r.scenarios):>9} {passed:>6} {failing:>6}  {coverage:<8}  {run}")
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
    shared = [r for r in report.results if r.shared_with]
    if not report.ran:
        gaps = sum(not r.covered for r in report.results) + len(report.untested)
        lines.append(f"\n{alerts} alerts, {total} scenarios, {gaps} coverage gaps; promtool not run (--coverage-only)")
        return "\n".join(lines)
    lines.append(f"\n{alerts} alerts, {total - failed} passed, {failed} failed")
    before = [r for r in report.results if r.passed_before]
    if before:
        lines.append(
            f"{len(before)} of {len(report.results)} test files passed before against the same rules with the same"
            " promtool: not run again (RULESGEN_CACHE_DIR=off runs every file)"
        )
    if shared:
        lines.append(
            f"{len(shared)} of {len(report.results)} test files ({sum(len(r.scenarios) for r in shared)} scenarios)"
            " shared another environment's promtool run, their static labels and annotations checked apart"
        )
    return "\n".join(lines)


def _run(r: AlertResult) -> str:
    shared = f"shared with {r.shared_with}" if r.shared_with else "own"
    return f"{shared}, passed before" if r.passed_before else shared


def junit_xml(report: Report) -> bytes:
    """JUnit XML: a suite per environment, a case per scenario."""
    root = ElementTree.Element("testsuites", name="rulesgen")
    for env in sorted({r.env for r in report.results} | {e for e, _ in report.untested}):
        results = [r for r in report.results if r.env == env]
        suite = ElementTree.SubElement(root, "testsuite", name=f"rulesgen.{env}")
        count = failures = 0
        for r in results:
            for scenario in r.scenarios if report.ran else ():
                count += 1
                name = scenario.split("/", 1)[-1]
                case = ElementTree.SubElement(suite, "testcase", classname=f"{env}.{r.alert}", name=name)
                whole_file = any(f.startswith("(") for f in r.failed)  # (file), (timeout), (no deployed rule)
                if not r.ok and (name in r.failed or whole_file):
                    failures += 1
                    ElementTree.SubElement(case, "failure", message="promtool test failed").text = r.output
                if r.shared_with:  # after <failure>, as the JUnit schema orders them
                    out = ElementTree.SubElement(case, "system-out")
                    out.text = f"promtool run shared with {r.shared_with}; static labels and annotations checked apart"
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
