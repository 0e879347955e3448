"""rulesgen: typed alert thresholds in, proven Prometheus rules, Alertmanager routing,
Grafana dashboards and deploy files out."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rulesgen import __version__, children, progress
from rulesgen.errors import SpecErrors, ToolMissing, did_you_mean
from rulesgen.writer import Drift, compare_tree, write_tree

if TYPE_CHECKING:
    from rulesgen.diff import Notes
    from rulesgen.errors import Diagnostic
    from rulesgen.ir import ProgramIR
    from rulesgen.pipeline import Compiled
    from rulesgen.spec.validate import Document
    from rulesgen.targets import Files
    from rulesgen.verify.client import Auth
    from rulesgen.verify.routing import RouteCheck
    from rulesgen.writer import WriteResult

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what shell tools report when their reader goes away
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what shell tools report when their reader goes away


def _print_json(payload: object) -> None:
    print(json.dumps(payload, indent=2, sort_keys=True))


def _report_errors(exc: SpecErrors, fmt: str) -> int:
    if fmt == "json":
        _print_json({"ok": False, "errors": [e.as_dict() for e in exc.errors]})
    else:
        for error in exc.errors:
            print(error, file=sys.stderr)
        print(f"{len(exc.errors)} error(s); nothing was written", file=sys.stderr)
    return EXIT_BAD_INPUT


def build(spec: Path) -> Files:
    """Every file the spec at `spec` generates (raises SpecErrors on bad input); their
    hashes are remembered, so that `check` and `validate` on the same spec and rulesgen
    answer by comparing hashes (`known_trees`)."""
    from rulesgen.known_trees import remember_tree
    from rulesgen.pipeline import build_document
    from rulesgen.spec.validate import load_spec

    doc = load_spec(spec)
    files = build_document(doc)
    remember_tree(doc.file, doc.sha256, files)
    return files


def _known(args: argparse.Namespace) -> int | None:
    """`check`, `validate` and `generate` answered without compiling, when this rulesgen
    compiled this spec before and (for `check` and `generate`) `output/` holds exactly
    those files; else None."""
    from rulesgen.known_trees import environments_of, known_tree, schema_current, tree_matches

    expected = known_tree(args.spec)
    if expected is None:
        return None
    count = len(expected) - 1  # without the manifest
    if args.command == "validate":
        return _validated(args, environments_of(expected), count)
    if args.command == "generate":
        return _nothing_to_write(args, expected, count)
    if not tree_matches(args.output, expected) or not schema_current(args.spec.parent):
        return None
    return _checked(args, Drift(), None, count)


def _nothing_to_write(args: argparse.Namespace, expected: dict[str, str], count: int) -> int | None:
    """`generate` when `output/` already holds exactly what it would write, and the
    self-check passed on these files with the tools on PATH now: nothing to do."""
    from rulesgen.known_trees import tree_matches
    from rulesgen.selfcheck import passed_before
    from rulesgen.writer import OutputRefused, WriteResult, check_location

    try:
        # First: a refused location (the spec's directory, `/`) is never read.
        check_location(args.output, args.spec)
    except OutputRefused:
        return None  # the full path says why
    if not tree_matches(args.output, expected):
        return None
    if not args.no_self_check and not passed_before(expected):
        return None
    return _generated(args, count, WriteResult(0, [], False))


def cmd_validate(args: argparse.Namespace, files: Files) -> int:
    """The spec only: load, validate and compile, write nothing."""
    from rulesgen.known_trees import environments_of

    return _validated(args, environments_of(files), len(files))


def _validated(args: argparse.Namespace, envs: list[str], count: int) -> int:
    """What `validate` prints of a spec that compiles (also when known: `_known`)."""
    if args.format == "json":
        _print_json({"ok": True, "environments": envs, "files": count})
    else:
        print(f"{args.spec}: ok ({', '.join(envs)})")
    return EXIT_OK


def cmd_generate(args: argparse.Namespace, files: Files) -> int:
    """Write `output/` all or nothing, replacing or deleting only files rulesgen wrote."""
    from rulesgen.selfcheck import remember_passed
    from rulesgen.writer import OutputRefused, WriteFailed, check_location

    if not args.no_self_check:
        if (refused := _self_check(args, files)) is not None:
            return refused
        remember_passed(files)
    try:
        check_location(args.output, args.spec)
        result = write_tree(args.output, files)
    except (OutputRefused, WriteFailed) as exc:
        paths = exc.paths if isinstance(exc, OutputRefused) else []
        if args.format == "json":
            _print_json({"ok": False, "error": str(exc), "not_generated": paths})
        else:
            print(f"rulesgen: {exc}", file=sys.stderr)
            for path in paths:
                print(f"  {args.output / path}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return _generated(args, len(files), result)


def _generated(args: argparse.Namespace, count: int, result: WriteResult) -> int:
    """What `generate` prints once `output/` holds the files (also when known: `_known`)."""
    if args.format == "json":
        _print_json(
            {
                "ok": True,
                "files": count,
                "changed": result.changed,
                "changed_files": result.paths,
                "edited": result.edited,
            }
        )
        return EXIT_OK
    if result.edited:
        # Generated files say DO NOT EDIT; an edit is overwritten, but not silently.
        print(f"rulesgen: replaced {len(result.edited)} generated file(s) edited by hand:", file=sys.stderr)
        for path in result.edited:
            print(f"  {args.output / path}", file=sys.stderr)
    print(f"wrote {count} files to {args.output} ({result.changed} changed)")
    return EXIT_OK


def _self_check(args: argparse.Namespace, files: Files) -> int | None:
    """promtool and amtool judge the files before they are written; exit 1 when one
    refuses (output/ untouched), None when every tool on PATH accepted them."""
    from rulesgen.selfcheck import self_check

    result = self_check(files)
    if not result.failures:
        return None
    if args.format == "json":
        _print_json({"ok": False, "self_check": list(result.failures)})
    else:
        for failure in result.failures:
            print(f"rulesgen: self-check: {failure}", file=sys.stderr)
        print(
            f"rulesgen: {', '.join(result.checked)} refused the generated files; {args.output} is unchanged "
            "(a rulesgen bug: please report it; --no-self-check writes them anyway)",
            file=sys.stderr,
        )
    return EXIT_CHECK_FAILED


def cmd_check(args: argparse.Namespace, files: Files) -> int:
    """Exit 1 when `output/` is not what `generate` would write; writes nothing."""
    from rulesgen.known_trees import remember_schema
    from rulesgen.schema import generated_files, schema_drift

    # The JSON Schema and field reference beside the spec are generated too.
    schema = generated_files()
    remember_schema(schema)
    if (stale_schema := schema_drift(args.spec.parent, schema)) is not None:
        print(stale_schema, file=sys.stderr if args.format == "json" else sys.stdout)
    return _checked(args, compare_tree(args.output, files), stale_schema, len(files))


def _checked(args: argparse.Namespace, drift: Drift, stale_schema: str | None, count: int) -> int:
    """What `check` prints and exits with (also when known: `_known`)."""
    foreign = set(drift.foreign)
    if args.format == "json":
        _print_json(
            {
                "ok": drift.clean and stale_schema is None,
                "missing": drift.missing,
                "extra": drift.extra,
                "changed": drift.changed,
                "foreign": drift.foreign,
                "diff": drift.diff,
                "schema": stale_schema,
            }
        )
    elif drift.clean:
        print(f"{args.output} is up to date ({count} files)")
    else:
        for label, paths in (
            ("missing", drift.missing),
            ("stale", drift.changed),
            ("obsolete", [p for p in drift.extra if p not in foreign]),
            ("not generated", drift.foreign),
        ):
            for path in paths:
                print(f"{label}: {args.output}/{path}")
        if drift.diff:
            print(drift.diff)
        if foreign:
            print(f"{args.output} holds files rulesgen did not write: `rulesgen generate` refuses until they move out")
        print(f"{args.output} is stale: run `rulesgen generate` (or `make generate`) and commit it")
    return EXIT_OK if drift.clean and stale_schema is None else EXIT_CHECK_FAILED


def cmd_schema(args: argparse.Namespace) -> int:
    """Write the spec's JSON Schema and the alert kinds' field reference beside the spec.

    Both come from the models alone, so the spec is not read (a broken spec is what
    the schema helps fix)."""
    from rulesgen.schema import REFERENCE_PATH, SCHEMA_PATH, write_generated

    root = args.spec.parent
    changed = write_generated(root)
    if args.format == "json":
        _print_json({"ok": True, "files": [SCHEMA_PATH, REFERENCE_PATH], "changed": changed})
    else:
        print(f"wrote {root / SCHEMA_PATH} and {root / REFERENCE_PATH} ({len(changed)} changed)")
    return EXIT_OK


def _bad_input(args: argparse.Namespace, message: str) -> int:
    if args.format == "json":
        _print_json({"ok": False, "error": message})
    print(f"rulesgen: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _tested_envs(args: argparse.Namespace) -> list[str] | str:
    """The environments to test, or why `output/` cannot be tested (exit 2).

    Tests that differ from what the spec generates judge an old spec, so they are
    refused; deployed rule files that differ are what the tests exist to judge, so
    they are kept in `args.edited` and tested. The spec is compiled here, once: the
    verification wing reads only `output/`, and what it is told to expect (where each
    alert must be routed) comes from `args.compiled`."""
    from rulesgen.known_trees import known_for, remember_tree, tree_matches
    from rulesgen.pipeline import compile_document, streamed_files
    from rulesgen.spec.validate import load_spec
    from rulesgen.verify.deployed import environments
    from rulesgen.verify.freshness import freshness

    known = environments(args.output)
    if not known:
        return f"{args.output} holds no generated environments: run `rulesgen generate` first"
    unknown = sorted(set(args.env or ()) - set(known))
    if unknown:
        return f"unknown environment {', '.join(map(repr, unknown))}; {args.output} has: {', '.join(known)}"
    envs: list[str] = args.env or known
    doc = load_spec(args.spec)
    # The tests come from output/, not from here: the program and routes are what is read.
    args.compiled = compile_document(doc, tests=False)
    args.edited = []
    expected = known_for(doc.file, doc.sha256)
    if expected is not None and tree_matches(args.output, expected):
        return envs  # exactly what this spec generates: nothing stale, nothing edited
    files = streamed_files(args.compiled)
    remember_tree(doc.file, doc.sha256, files)
    fresh = freshness(args.output, files, envs)
    if fresh.stale:
        listed = "".join(f"\n  {args.output}/{path}" for path in fresh.stale[:20])
        more = f"\n  ... and {len(fresh.stale) - 20} more" if len(fresh.stale) > 20 else ""
        return (
            f"{args.output} is stale: these files are not what {args.spec} generates:{listed}{more}\n"
            f"run `rulesgen generate` before `rulesgen {args.command}`"
        )
    args.edited = [f"{args.output}/{path}" for path in fresh.edited]
    return envs


def _route_checks(compiled: Compiled, envs: list[str], alerts: Collection[str]) -> tuple[list[str], list[RouteCheck]]:
    """The environments to check routing in (the spec's order) and, for each alert rule
    there, the receiver the spec alone says it must reach: amtool then judges the
    generated route tree against the spec, not against itself."""
    from rulesgen.lower.routing import expected_receiver
    from rulesgen.verify.routing import RouteCheck

    checked = [env for env in compiled.program.envs if env.env in envs]
    checks: list[RouteCheck] = []
    for env in checked:
        for rule in (r for alert in env.alerts if not alerts or alert.name in alerts for r in alert.rules):
            labels = {"alertname": rule.alert, **dict(rule.labels)}
            checks.append(RouteCheck(env.env, rule.alert, labels, expected_receiver(compiled.doc, env.env, labels)))
    return [env.env for env in checked], checks


def _unknown_alerts(output: Path, envs: list[str], alerts: set[str]) -> str:
    """Why `--alert` names nothing `output/` deploys in `envs`, or ''."""
    from rulesgen.verify.deployed import deployed_alerts

    known: set[str] = set()
    for env in envs:
        known |= deployed_alerts(output / env)
    unknown = sorted(alerts - known)
    if not unknown:
        return ""
    hint = did_you_mean(unknown[0], sorted(known))
    return f"unknown alert {', '.join(map(repr, unknown))} in {', '.join(envs)}{hint}"


def cmd_test(args: argparse.Namespace) -> int:
    """Run the generated promtool tests against the deployed rules in `output/`, the
    coverage gate and the routing checks."""
    from rulesgen.verify.report import format_report, junit_xml, report_json
    from rulesgen.verify.routing import verify_routing
    from rulesgen.verify.suite import run_tests

    # A message printed while the progress line is up lands above it (rich redirects
    # stderr meanwhile); the report is printed once the line is gone.
    with progress.shown("rulesgen test", args.format) as shown:
        shown.start(0, "checking output/ against the spec")
        envs = _tested_envs(args)
        if isinstance(envs, str):
            return _bad_input(args, envs)
        alerts = set(args.alert or ())
        unknown = _unknown_alerts(args.output, envs, alerts)
        if unknown:
            return _bad_input(args, unknown)
        report = run_tests(args.output, envs, args.jobs, args.timeout, shown, alerts, not args.coverage_only)
        report.edited = args.edited
        if not args.coverage_only and any((args.output / env / "alertmanager").is_dir() for env in envs):
            routed, checks = _route_checks(args.compiled, envs, alerts)
            report.routes, report.config_errors = verify_routing(routed, checks, args.output, args.timeout, shown)
    if args.junit:
        args.junit.write_bytes(junit_xml(report))
    if args.format == "json":
        _print_json(report_json(report))
    else:
        print(format_report(report))
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED


def cmd_mutate(args: argparse.Namespace) -> int:
    """Mutate the deployed rules of each alert and run its tests against every mutant;
    exit 1 when an environment's mutation score is below `--min-score`."""
    import os

    from rulesgen.ir import compares
    from rulesgen.mutate import format_mutations, mutations_json, run_mutations
    from rulesgen.verify import tool

    tool("promtool")
    with progress.shown("rulesgen mutate", args.format) as shown:
        shown.start(0, "checking output/ against the spec")
        envs = _tested_envs(args)
        if isinstance(envs, str):
            return _bad_input(args, envs)
        program = args.compiled.program  # compiled once, by _tested_envs
        units = {
            (e.env, a.name): [(c.value, c.quantity.unit) for rule in a.rules for c in compares(rule.condition)]
            for e in program.envs
            for a in e.alerts
        }
        known = {a for e in program.envs if e.env in envs for a in units if a[0] == e.env}
        named = {name for _, name in known}
        unknown = sorted((set(args.alert or ()) | set(args.skip_alert or ())) - named)
        if unknown:
            return _bad_input(args, f"unknown alert {', '.join(map(repr, unknown))} in {', '.join(envs)}")
        alerts = sorted(set(args.alert or named) - set(args.skip_alert or ()))
        if not alerts:
            return _bad_input(args, "--skip-alert leaves no alert to mutate")
        jobs = args.jobs or os.cpu_count() or 2
        report = run_mutations(args.output, envs, alerts, jobs, units, args.timeout, shown)
    if args.format == "json":
        _print_json(mutations_json(report))
    else:
        print(format_mutations(report))
    low = [env for env in report.envs if (report.env_score(env) or 0.0) < args.min_score]
    return EXIT_OK if report.baseline_ok and not low else EXIT_CHECK_FAILED


def cmd_lint(args: argparse.Namespace) -> int:
    """Every check of the registry on the spec and on each environment's result."""
    from rulesgen.known_results import known_result
    from rulesgen.lint import registry
    from rulesgen.lint.report import render_diagnostics, render_list

    if args.list:
        print(render_list(registry().values(), args.format))
        return EXIT_OK
    known = known_result("lint", args.spec)
    try:
        checks, diagnostics = _lint_result(known) if known is not None else _lint(args.spec)
    except (ValueError, TypeError, KeyError):  # an entry that does not decode: lint again
        checks, diagnostics = _lint(args.spec)
    text = render_diagnostics(diagnostics, args.format)
    if text:
        print(text)
    elif args.format == "text":
        print(f"{args.spec}: {checks} checks, no errors, no warnings")
    if any(d.is_error for d in diagnostics):
        return EXIT_BAD_INPUT
    return EXIT_CHECK_FAILED if args.strict and diagnostics else EXIT_OK


def _lint(spec: Path) -> tuple[int, list[Diagnostic]]:
    """The number of checks and what they found, remembered for this spec's text."""
    from rulesgen.known_results import remember_result
    from rulesgen.lint import registry
    from rulesgen.pipeline import lint_document
    from rulesgen.spec.validate import load_spec

    try:
        doc = load_spec(spec)
    except SpecErrors as exc:  # the spec does not parse: those are RG001 errors
        return len(registry()), list(exc.errors)
    diagnostics = lint_document(doc)
    data = {"checks": len(registry()), "diagnostics": [dataclasses.asdict(d) for d in diagnostics]}
    remember_result("lint", doc.file, doc.sha256, json.dumps(data).encode())
    return len(registry()), diagnostics


def _lint_result(data: bytes) -> tuple[int, list[Diagnostic]]:
    from rulesgen.errors import Diagnostic

    known = json.loads(data)
    return int(known["checks"]), [Diagnostic(**d) for d in known["diagnostics"]]


def cmd_explain(args: argparse.Namespace) -> int:
    """One alert in words, PromQL, numbers, routes, panel and tests, per environment."""
    from rulesgen.known_results import known_result, remember_result

    what = "\0".join(("explain", args.alert, args.env or "", args.format))
    if (known := known_result(what, args.spec)) is not None:
        try:
            text = known.decode()
        except UnicodeDecodeError:  # a damaged entry: explain again
            pass
        else:
            print(text, end="")
            return EXIT_OK
    from rulesgen.explain import explain, render_text
    from rulesgen.pipeline import compile_document
    from rulesgen.spec.validate import load_spec

    doc = load_spec(args.spec)
    compiled = compile_document(doc)
    envs = [e.env for e in compiled.program.envs]
    if args.env and args.env not in envs:
        print(f"rulesgen: unknown environment {args.env!r}; known: {', '.join(envs)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    names = sorted({a.name for a in compiled.doc.alerts})
    if args.alert not in names:
        print(f"rulesgen: unknown alert {args.alert!r}{did_you_mean(args.alert, names)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    data = explain(compiled.program, compiled.tests, args.alert, [args.env] if args.env else envs)
    text = (json.dumps(data, indent=2, sort_keys=True) if args.format == "json" else render_text(data)) + "\n"
    remember_result(what, doc.file, doc.sha256, text.encode())
    print(text, end="")
    return EXIT_OK


def _compile_sides(*loads: Callable[[], Document]) -> list[ProgramIR]:
    """Each spec compiled, before any error is reported: a broken base and a broken
    spec are listed together, each error under its own file name."""
    from rulesgen.errors import SpecError
    from rulesgen.pipeline import compile_document

    errors: list[SpecError] = []
    programs = []
    for load in loads:
        try:
            programs.append(compile_document(load(), tests=False).program)
        except SpecErrors as exc:
            errors += exc.errors
    if errors:
        raise SpecErrors(errors)
    return programs


def cmd_diff(args: argparse.Namespace) -> int:
    """What changing the spec means: the IR of `--base` (a git ref) or `--base-spec`
    against the IR of `--spec`, per environment and alert."""
    from rulesgen.diff import BaseNotFound, Notes, as_data, diff_programs, render_markdown, render_text, spec_at_ref
    from rulesgen.spec.validate import load_spec, parse_spec

    if args.backtest is None:
        given = [flag for flag, value in _BACKTEST_ONLY.items() if getattr(args, value) is not None]
        if given:
            return _bad_input(args, f"{', '.join(given)} needs --backtest SOURCE")
    text: str | None = None
    if args.base_spec is not None:
        base_name = str(args.base_spec)
    else:
        try:
            text, base_name = spec_at_ref(args.base, args.spec)
        except BaseNotFound as exc:
            print(f"rulesgen: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT

    def load(which: str) -> Document:
        if which == "spec":
            return load_spec(args.spec)
        return parse_spec(text, base_name) if text is not None else load_spec(args.base_spec)

    programs = _compile_sides(lambda: load("base"), lambda: load("spec"))
    diff = diff_programs(programs[0], programs[1], base_name, str(args.spec))
    data: dict[str, Any] = {}
    notes, failed = Notes(), ""
    if args.backtest is not None:
        backtested = _diff_backtest(args, programs[0], programs[1], diff.changed_alerts())
        if isinstance(backtested, str):
            return _bad_input(args, backtested)
        notes, data, failed = backtested
    if args.format == "json":
        _print_json({**as_data(diff), **data})
    else:
        render = render_markdown if args.format == "markdown" else render_text
        print(render(diff, notes), end="" if args.format == "markdown" else "\n")
    if failed:
        # Also on stderr, last: a CI log shows why the job failed under the report.
        print(f"rulesgen: {failed}", file=sys.stderr)
    return EXIT_CHECK_FAILED if failed or (args.exit_code and diff.changed) else EXIT_OK


def _diff_backtest(
    args: argparse.Namespace, old: ProgramIR, new: ProgramIR, changed: dict[str, dict[str, str]]
) -> tuple[Notes, dict[str, Any], str] | str:
    """`diff --backtest`: the lines and JSON it adds to the report and how `--max-pages`
    failed ('' when it did not), or why the source cannot be read."""
    from rulesgen.backtest import change
    from rulesgen.backtest.common import BacktestError
    from rulesgen.backtest.run import tty_progress
    from rulesgen.backtest.source import SourceError

    try:
        auth = _auth(args)
        compared = change.compare(
            old, new, changed, args.backtest, args.start, args.end, args.incidents, tty_progress, auth
        )
    except (BacktestError, SourceError, BadAuth) as exc:
        return str(exc)
    finally:
        tty_progress("")
    over = args.max_pages is not None and bool(compared.over(args.max_pages))
    failed = change.gate(compared, args.max_pages) if over else ""
    return change.notes(compared, args.max_pages), {"backtest": change.as_data(compared, args.max_pages)}, failed


# `rulesgen diff` options that only mean something with --backtest: flag -> attribute.
_BACKTEST_ONLY = {
    "--from": "start",
    "--to": "end",
    "--incidents": "incidents",
    "--max-pages": "max_pages",
    "--header": "header",
    "--bearer-token-file": "bearer_token_file",
    "--basic-auth-file": "basic_auth_file",
    "--ca-file": "ca_file",
}


def cmd_simulate(args: argparse.Namespace) -> int:
    """Days of the platform's metrics in OpenMetrics, and the incidents in them."""
    from rulesgen.backtest.simulate import simulate
    from rulesgen.spec.validate import load_spec

    incidents = simulate(load_spec(args.spec), args.days, args.seed, args.out, args.scrape_interval)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) and {incidents}")
    return EXIT_OK


def cmd_backtest(args: argparse.Namespace) -> int:
    """Every alert of the environments on recorded history: firings and notifications."""
    from rulesgen.backtest.common import BacktestError
    from rulesgen.backtest.incidents import judge, load_incidents
    from rulesgen.backtest.report import render_json, render_markdown, render_text
    from rulesgen.backtest.run import backtest, history, parse_set, parse_sweep, plan, tty_progress
    from rulesgen.backtest.source import SourceError
    from rulesgen.spec.validate import load_spec

    if args.compare is not None:
        return _backtest_compare(args)
    doc = load_spec(args.spec)
    try:
        sets = [parse_set(s) for s in args.set or []]
        sweep = parse_sweep(args.sweep) if args.sweep else []
        incidents = load_incidents(args.incidents) if args.incidents else None
        planned = plan(doc, args.env or [], args.alert or [], sets, sweep)
        auth = _auth(args)
        with history(args.source, args.start, args.end, auth) as (client, start, end):
            result = backtest(planned, client, args.source, start, end, tty_progress)
        if incidents is not None:
            result.verdicts = {e.env: {r.alert: judge(r, incidents) for r in e.runs} for e in result.envs}
    except (BacktestError, SourceError, BadAuth) as exc:
        tty_progress("")
        print(f"rulesgen: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    tty_progress("")
    if args.format == "html":
        from rulesgen.backtest.htmlreport import render_html

        print(render_html(result, args.work_hours))
        return EXIT_OK
    render = {"json": render_json, "markdown": render_markdown, "text": render_text}[args.format]
    print(render(result, args.work_hours))
    return EXIT_OK


def _backtest_compare(args: argparse.Namespace) -> int:
    """`backtest --compare REF`: every selected alert on the spec at REF and in the work
    tree, side by side, through `diff --backtest`'s comparison of two programs."""
    from rulesgen.backtest import change
    from rulesgen.backtest.common import BacktestError
    from rulesgen.backtest.run import check_names, tty_progress
    from rulesgen.backtest.source import SourceError
    from rulesgen.diff import BaseNotFound, diff_programs, spec_at_ref
    from rulesgen.spec.validate import load_spec, parse_spec

    if args.set or args.sweep or args.format == "html":
        return _bad_input(args, "--compare REF backtests two specs as written: no --set, --sweep or --format html")
    try:
        text, name = spec_at_ref(args.compare, args.spec)
    except BaseNotFound as exc:
        return _bad_input(args, str(exc))
    old, new = _compile_sides(lambda: parse_spec(text, name), lambda: load_spec(args.spec))
    changed = diff_programs(old, new, name, str(args.spec)).changed_alerts()
    at_ref = {e.env for e in old.envs}
    statuses = {}
    for env in new.envs:
        if env.env in at_ref and (not args.env or env.env in args.env):
            every = {a.name: "unchanged" for a in env.alerts} | changed.get(env.env, {})
            statuses[env.env] = {n: s for n, s in every.items() if not args.alert or n in args.alert}
    names = sorted({a.name for p in (old, new) for e in p.envs for a in e.alerts})
    try:
        check_names(new, args.env or [], [])
        for alert in args.alert or []:
            if alert not in names:
                raise BacktestError(f"unknown alert {alert!r}{did_you_mean(alert, names)}")
        auth = _auth(args)
        compared = change.compare(
            old, new, statuses, args.source, args.start, args.end, args.incidents, tty_progress, auth
        )
    except (BacktestError, SourceError, BadAuth) as exc:
        return _bad_input(args, str(exc))
    finally:
        tty_progress("")
    if args.format == "json":
        _print_json({"compare": name, **change.as_data(compared)})
    else:
        print(change.side_by_side(compared, args.compare, args.format == "markdown"), end="")
    return EXIT_OK


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name.strip(), value


def _duration_seconds(text: str) -> float:
    from rulesgen.promql import Duration

    try:
        return Duration.parse(text).seconds
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _scrape_interval(text: str) -> int:
    from rulesgen.backtest.simulate import MAX_SCRAPE_INTERVAL

    seconds = _duration_seconds(text)
    if seconds != int(seconds) or not 1 <= seconds <= MAX_SCRAPE_INTERVAL:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number of seconds from 1s to {MAX_SCRAPE_INTERVAL}s")
    return int(seconds)


def cmd_verify(args: argparse.Namespace) -> int:
    """Live checks of `output/<env>` against a Prometheus-compatible server (and its
    Alertmanager): series, label values, types, windows, loaded rules, routing, firing."""
    from rulesgen.verify.client import ApiError, Client, PrometheusAPI, Unreachable
    from rulesgen.verify.context import Context
    from rulesgen.verify.deployed import BadOutput, environments, load
    from rulesgen.verify.findings import render
    from rulesgen.verify.run import verify

    envs = environments(args.output)
    env = args.env or (envs[0] if len(envs) == 1 else "prod" if "prod" in envs else None)
    if env is None:
        return _bad_input(args, f"choose an environment with --env: {args.output} has {', '.join(envs) or 'none'}")
    try:
        auth = _auth(args)
        deployed = load(args.output, env)
        prometheus = PrometheusAPI(Client(args.prometheus, args.timeout, auth))
        alertmanager = Client(args.alertmanager, args.timeout, auth) if args.alertmanager else None
        prometheus.data("/api/v1/query", [("query", "1")])  # reachable, and speaks the API
        if alertmanager is not None:
            alertmanager.get("/api/v2/status")
        ctx = Context(deployed, prometheus, alertmanager, args.lookback, args.step, args.min_age, args.near)
        findings = verify(ctx, args.skip or ())
    except (BadOutput, BadAuth, Unreachable, ApiError, ValueError) as exc:
        # ApiError here: the first query failed, so this is no Prometheus API.
        return _bad_input(args, str(exc))
    print(render(findings, args.format, ctx.notes))
    return EXIT_CHECK_FAILED if any(f.counts for f in findings) else EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, Files], int]] = {
    "generate": cmd_generate,
    "check": cmd_check,
    "validate": cmd_validate,
}


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be {least} or more, not {value}")
    return value


def _positive(text: str) -> int:
    return _whole(text, 1)


def _count(text: str) -> int:
    return _whole(text, 0)


class BadAuth(Exception):
    """A credentials file that cannot be read: one line for the user."""


def _auth_options(cmd: argparse.ArgumentParser) -> None:
    """How to reach a server that asks for credentials or a tenant, as `verify`,
    `backtest` and `diff --backtest` take it."""
    cmd.add_argument("--header", type=_header, action="append", metavar="K=V", help="extra header (X-Scope-OrgID=team)")
    cmd.add_argument("--bearer-token-file", type=Path, help="file holding a bearer token")
    cmd.add_argument("--basic-auth-file", type=Path, help="file holding user:password")
    cmd.add_argument("--ca-file", type=Path, help="CA certificate(s) for https")


def _auth(args: argparse.Namespace) -> Auth:
    """The credentials of `_auth_options`, their files read now: one that cannot be
    read is bad input before any server is started or asked."""
    import ssl

    from rulesgen.verify.client import Auth

    auth = Auth(dict(args.header or ()), args.bearer_token_file, args.basic_auth_file, args.ca_file)
    try:
        auth.all_headers()
    except OSError as exc:
        raise BadAuth(f"{exc.filename}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BadAuth(str(exc)) from None
    if auth.ca_file is not None:
        try:
            ssl.create_default_context(cafile=str(auth.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise BadAuth(f"{auth.ca_file}: not a CA certificate ({exc.strerror or exc})") from None
    return auth


def _history_range(cmd: argparse.ArgumentParser) -> None:
    """The range of history a backtest reads, as `backtest` and `diff --backtest` take it."""
    cmd.add_argument("--from", dest="start", help="RFC 3339 or unix seconds (default: the file's first sample)")
    cmd.add_argument("--to", dest="end", help="RFC 3339 or unix seconds (default: the file's last sample)")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 86400 seconds, not {text}")
    return value


def _hours(text: str) -> tuple[int, int]:
    start, _, end = text.partition("-")
    try:
        hours = (int(start), int(end))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not H-H, like 9-18") from None
    if not 0 <= hours[0] < hours[1] <= 24:
        raise argparse.ArgumentTypeError(f"{text!r}: hours run from 0 to 24, start before end")
    return hours


def _score(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"a score is 0..1 (or a percentage up to 100), not {value}")
    return value / 100 if value > 1 else value


EPILOG = """examples:
  rulesgen generate                     compile thresholds.yaml into output/
  rulesgen check                        exit 1 when output/ is stale (CI)
  rulesgen validate --format json       check the spec only, machine-readable
  rulesgen lint --strict --format github    every check, as GitHub annotations
  rulesgen explain BillingPendingBacklog --env prod
  rulesgen test --env prod --junit junit.xml
  rulesgen mutate --env prod --min-score 95
  rulesgen schema                       write the JSON Schema and kind reference
  rulesgen simulate --days 8 --out demo.om.gz   demo history and its incidents.yaml
  rulesgen backtest --source demo.om.gz --sweep BillingPendingBacklog.threshold=10..30:5
  rulesgen diff --backtest demo.om.gz --max-pages 10 --format markdown   pages before and after a change
  rulesgen verify --prometheus http://prometheus:9090 --alertmanager http://alertmanager:9093 --env prod

exit codes: 0 ok; 1 a check failed (stale output, failing test, lint --strict
warnings, mutation score below --min-score, verify findings, a changed alert over
diff --max-pages); 2 bad input (spec errors with
file:line:column, unknown environment, missing promtool/amtool, refused output,
a backtest source that is unreachable, not OpenMetrics or holds no data);
130/143 interrupted by SIGINT/SIGTERM (children stopped, temporary files removed);
141 the reader of stdout went away (a closed pipe).

environment: RULESGEN_CACHE_DIR  where plans, generated trees' hashes, lint and
explain results and promtool's passes are kept by content, so unchanged work is not
done again (default $XDG_CACHE_HOME/rulesgen or ~/.cache/rulesgen, none where CI is
set; `off` disables it; output is the same either way). GOMAXPROCS, GOGC: promtool's
Go runtime for `test` and `mutate` (default 1 and 200: one core per promtool, a third
less CPU; a value set here wins)."""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="rulesgen", description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    top.add_argument("--version", action="version", version=f"rulesgen {__version__}")
    sub = top.add_subparsers(dest="command", required=True)
    helps = {
        "generate": "compile the spec into output/ (atomically)",
        "check": "exit 1 if output/ is stale; writes nothing",
        "validate": "check the spec only; writes nothing",
        "test": "run the generated promtool tests in output/; exit 1 on a failure or a coverage gap",
        "mutate": "mutate the deployed rules and report which mutants the generated tests miss",
        "schema": "write schema/thresholds.schema.json and docs/reference/alert-kinds.md (beside --spec) from the models",
    }
    for name, text in helps.items():
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument("--spec", type=Path, default=Path("thresholds.yaml"), help="default: %(default)s")
        cmd.add_argument("--output", type=Path, default=Path("output"), help="default: %(default)s")
        cmd.add_argument("--format", choices=("text", "json"), default="text", help="report format")
        if name == "generate":
            cmd.add_argument(
                "--no-self-check",
                action="store_true",
                help="do not run promtool check rules and amtool check-config on the files before writing them",
            )
        if name in ("test", "mutate"):
            cmd.add_argument(
                "--timeout",
                type=_seconds,
                default=600.0,
                help="seconds one promtool process or amtool run may take before what it judges counts as failed;"
                " test files are batched so that a batch is expected to take an eighth of it (default: %(default)g)",
            )
            cmd.add_argument(
                "--concurrency",
                "--jobs",
                dest="jobs",
                metavar="N",
                type=_positive,
                default=None,
                help="promtool processes at a time (default: cores; --jobs is the older name)",
            )
        if name == "mutate":
            cmd.add_argument("--env", action="append", help="only this environment (repeatable)")
            cmd.add_argument("--alert", action="append", help="only this alert (repeatable)")
            cmd.add_argument("--skip-alert", action="append", help="all alerts but this one (repeatable)")
            cmd.add_argument("--min-score", type=_score, default=0.0, help="exit 1 below this score (0..1 or percent)")
        if name == "test":
            cmd.add_argument("--env", action="append", help="only this environment (repeatable)")
            cmd.add_argument("--alert", action="append", help="only this alert's tests and routes (repeatable)")
            cmd.add_argument("--junit", type=Path, help="also write JUnit XML here")
            cmd.add_argument(
                "--coverage-only",
                action="store_true",
                help="only the coverage gate, from the test files: every deployed alert has tests with a firing "
                "and a silent scenario; runs neither promtool nor amtool (they need not be installed)",
            )
    lint = sub.add_parser("lint", help="run every check; warnings exit 0 (1 with --strict), errors 2")
    lint.add_argument("--spec", type=Path, default=Path("thresholds.yaml"), help="default: %(default)s")
    lint.add_argument("--format", choices=("text", "json", "github"), default="text", help="report format")
    lint.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")
    lint.add_argument("--list", action="store_true", help="list every check with its ID and title")
    explain = sub.add_parser("explain", help="what an alert watches, its PromQL, numbers, routes, panel and tests")
    explain.add_argument("alert", help="the alert's name")
    explain.add_argument("--env", help="only this environment")
    explain.add_argument("--spec", type=Path, default=Path("thresholds.yaml"), help="default: %(default)s")
    explain.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    verify = sub.add_parser(
        "verify",
        help="check output/<env> against a live Prometheus (and Alertmanager); exit 1 on findings",
        description="Live checks against any Prometheus-compatible API: the metrics and label values the "
        "rules read exist with their types, windows fit the scrape interval and retention, the loaded rules "
        "and Alertmanager config are output/'s, and which alerts fire or are close to firing. "
        "Exit 0 clean, 1 errors or warnings, 2 unreachable server or bad input.",
    )
    verify.add_argument("--prometheus", required=True, metavar="URL", help="Prometheus-compatible API base URL")
    verify.add_argument("--alertmanager", metavar="URL", help="Alertmanager base URL (compares its config)")
    verify.add_argument("--env", help="environment of output/ (default: the only one, else prod)")
    verify.add_argument("--output", type=Path, default=Path("output"), help="default: %(default)s")
    verify.add_argument(
        "--format", choices=("text", "json", "github", "markdown"), default="text", help="report format"
    )
    verify.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default: %(default)s)")
    _auth_options(verify)
    verify.add_argument(
        "--lookback", type=_duration_seconds, default=7 * 86400.0, help="history searched for a missing metric (7d)"
    )
    verify.add_argument("--step", type=_duration_seconds, default=300.0, help="step of that search (5m)")
    verify.add_argument(
        "--min-age", type=_duration_seconds, default=7200.0, help="a metric gone for less is not reported (2h)"
    )
    verify.add_argument(
        "--skip",
        action="append",
        choices=("series", "scrape", "retention", "rules", "alertmanager", "firing", "near"),
        help="leave out a check (repeatable): `--skip rules` for a querier whose rules run elsewhere",
    )
    verify.add_argument("--near", type=_score, default=0.1, help="report alerts this close to firing (10%%)")
    diff = sub.add_parser(
        "diff",
        help="what a spec change means per environment and alert; exit 1 on changes with --exit-code, "
        "or over --max-pages",
        description="Compare the compiled spec with a base version: thresholds (and whether they page sooner or "
        "later), for, windows, severities, receivers, labels, annotations, alerts, recording rules, dashboards, routes. "
        "With --backtest, how often each changed alert would have paged on recorded history before and after.",
    )
    base = diff.add_mutually_exclusive_group()
    base.add_argument("--base", default="HEAD", help="git ref holding the base spec (default: %(default)s)")
    base.add_argument("--base-spec", type=Path, help="the base spec as a file instead of a git ref")
    diff.add_argument("--spec", type=Path, default=Path("thresholds.yaml"), help="default: %(default)s")
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text", help="report format")
    diff.add_argument("--exit-code", action="store_true", help="exit 1 when there are changes (like git diff)")
    diff.add_argument(
        "--backtest",
        metavar="SOURCE",
        help="backtest the changed alerts on both sides on FILE.om[.gz] or http(s)://prometheus:9090: "
        "pages before and after, and how the first page moved",
    )
    _history_range(diff)
    _auth_options(diff)
    diff.add_argument(
        "--incidents",
        type=Path,
        metavar="FILE",
        help="incidents.yaml: compare first pages per incident (default: per shared firing)",
    )
    diff.add_argument(
        "--max-pages", type=_count, metavar="N", help="exit 1 when a changed alert would page more than N times"
    )
    simulate = sub.add_parser(
        "simulate", help="write days of the platform's metrics (OpenMetrics) with incidents and faults"
    )
    simulate.add_argument("--days", type=_positive, default=7, help="default: %(default)s")
    simulate.add_argument("--out", type=Path, required=True, help="the .om file; incidents.yaml goes beside it")
    simulate.add_argument("--seed", type=int, default=1, help="default: %(default)s")
    simulate.add_argument(
        "--scrape-interval",
        type=_scrape_interval,
        default=30,
        metavar="DURATION",
        help="seconds between samples of a series, 1s to 2m (default: 30s)",
    )
    simulate.add_argument("--spec", type=Path, default=Path("thresholds.yaml"), help="default: %(default)s")
    bt = sub.add_parser(
        "backtest",
        help="how often each alert would have fired and notified on recorded history",
        description="Evaluate every alert of the spec on a source's history (an OpenMetrics file, served by a "
        "temporary Prometheus, or a Prometheus-compatible URL): firing episodes, and the notifications "
        "Alertmanager would have sent per receiver.",
    )
    bt.add_argument("--source", required=True, help="FILE.om[.gz] or http(s)://prometheus:9090")
    _auth_options(bt)
    _history_range(bt)
    bt.add_argument("--env", action="append", help="only this environment (repeatable)")
    bt.add_argument("--alert", action="append", help="only this alert (repeatable)")
    bt.add_argument(
        "--set",
        action="append",
        metavar="ALERT.FIELD=VALUE",
        help="what-if: a spec field (or a part: tiers[0].factor) moved",
    )
    bt.add_argument("--sweep", metavar="ALERT.FIELD=LO..HI:STEP", help="what-if: a table of firings per value")
    bt.add_argument(
        "--compare",
        metavar="REF",
        help="the spec at git REF and the work tree's, side by side: notifications per alert and how the first moved",
    )
    bt.add_argument(
        "--work-hours", type=_hours, default=(9, 18), metavar="H-H", help="UTC, Monday to Friday (default: 9-18)"
    )
    bt.add_argument("--incidents", type=Path, help="incidents.yaml: caught, missed, time to detect, false firings")
    bt.add_argument("--spec", type=Path, default=Path("thresholds.yaml"), help="default: %(default)s")
    bt.add_argument("--format", choices=("text", "json", "markdown", "html"), default="text", help="report format")
    return top


# Objects allocated per gen-0 collection. A compile allocates millions of small,
# short-lived, acyclic objects (dicts of samples, tuples of labels) that reference
# counting frees; at the default 700 the collector runs thousands of times and its
# full collections re-walk every long-lived object of the spec and its IR.
GEN0_THRESHOLD = 50_000


@contextmanager
def _quiet_gc() -> Iterator[None]:
    """Move everything imported so far out of the collector's view and collect less
    often for the duration of one command, then restore the collector: `main` is
    also called in-process (tests) and must leave the interpreter as it found it."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rulesgen` console script."""
    try:
        with children.trapped():
            return _main(argv)
    except children.Interrupted as stop:
        # The children were stopped by PID in the handler; the temporary trees went
        # with the `with` blocks the exception left.
        print(f"rulesgen: interrupted by {stop.name}; stopped, temporary files removed", file=sys.stderr)
        return stop.exit_code
    except BrokenPipeError:
        # `rulesgen lint | head -1`: the reader left. Exit quietly, as `yes | head` does,
        # with 128 + SIGPIPE, and keep Python from complaining while flushing stdout.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    args = parser().parse_args(argv)
    with _quiet_gc():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "test":
            return cmd_test(args)
        if args.command == "mutate":
            return cmd_mutate(args)
        if args.command == "lint":
            return cmd_lint(args)
        if args.command == "explain":
            return cmd_explain(args)
        if args.command == "diff":
            return cmd_diff(args)
        if args.command == "schema":
            return cmd_schema(args)
        if args.command == "simulate":
            return cmd_simulate(args)
        if args.command == "backtest":
            return cmd_backtest(args)
        if args.command == "verify":
            return cmd_verify(args)
        if args.command in ("check", "validate", "generate") and (known := _known(args)) is not None:
            return known
        files = build(args.spec)
        return COMMANDS[args.command](args, files)
    except SpecErrors as exc:
        return _report_errors(exc, args.format)
    except (ToolMissing, OSError) as exc:  # promtool or amtool missing; an unreadable file, a full disk
        if isinstance(exc, BrokenPipeError):
            raise
        if getattr(args, "format", "text") == "json":
            _print_json({"ok": False, "error": str(exc), "kind": type(exc).__name__})
        else:
            print(f"rulesgen: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
