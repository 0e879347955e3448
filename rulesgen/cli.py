"""Command line: `rulesgen generate | check | validate`.

Exit codes are a contract for CI: 0 ok, 1 check failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rulesgen import __version__
from rulesgen.emit import Files
from rulesgen.errors import SpecErrors, ToolMissing, did_you_mean
from rulesgen.pipeline import build
from rulesgen.writer import compare_tree, write_tree

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


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


def cmd_validate(args: argparse.Namespace, files: Files) -> int:
    """The spec only: load, validate and compile, write nothing."""
    envs = sorted({path.split("/", 1)[0] for path in files if "/prometheus/" in path})
    if args.format == "json":
        _print_json({"ok": True, "environments": envs, "files": len(files)})
    else:
        print(f"{args.spec}: ok ({', '.join(envs)})")
    return EXIT_OK


def cmd_generate(args: argparse.Namespace, files: Files) -> int:
    """Write `output/` all or nothing, replacing or deleting only files rulesgen wrote."""
    from rulesgen.writer import OutputRefused, WriteFailed, check_location

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
    if args.format == "json":
        _print_json({"ok": True, "files": len(files), "changed": result.changed, "edited": result.edited})
        return EXIT_OK
    if result.edited:
        # Generated files say DO NOT EDIT; an edit is overwritten, but not silently.
        print(f"rulesgen: replaced {len(result.edited)} generated file(s) edited by hand:", file=sys.stderr)
        for path in result.edited:
            print(f"  {args.output / path}", file=sys.stderr)
    print(f"wrote {len(files)} files to {args.output} ({result.changed} changed)")
    return EXIT_OK


def cmd_check(args: argparse.Namespace, files: Files) -> int:
    """Exit 1 when `output/` is not what `generate` would write; writes nothing."""
    from rulesgen.schema import schema_drift

    # The JSON Schema and field reference beside the spec are generated too.
    if (stale_schema := schema_drift(args.spec.parent)) is not None:
        print(stale_schema, file=sys.stderr if args.format == "json" else sys.stdout)
    drift = compare_tree(args.output, files)
    foreign = set(drift.foreign)
    if args.format == "json":
        _print_json(
            {
                "ok": drift.clean,
                "missing": drift.missing,
                "extra": drift.extra,
                "changed": drift.changed,
                "foreign": drift.foreign,
            }
        )
    elif drift.clean:
        print(f"{args.output} is up to date ({len(files)} files)")
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


def cmd_test(args: argparse.Namespace) -> int:
    """Run the generated promtool tests in `output/` and the coverage gate."""
    from rulesgen.testrun import format_report, junit_xml, run_tests, verify_routing

    if not args.output.is_dir():
        print(f"{args.output} does not exist: run `rulesgen generate` first", file=sys.stderr)
        return EXIT_BAD_INPUT
    report = run_tests(args.output, args.env or None, args.jobs)
    if any(
        (args.output / env / "alertmanager").is_dir() for env in (args.env or [p.name for p in args.output.iterdir()])
    ):
        report.routes, report.config_errors = verify_routing(args.spec, args.output, args.env or None)
    if args.junit:
        args.junit.write_bytes(junit_xml(report))
    if args.format == "json":
        _print_json(
            {
                "ok": report.ok,
                "alerts": [
                    {
                        "env": r.env,
                        "alert": r.alert,
                        "scenarios": len(r.scenarios),
                        "failed": r.failed if not r.ok else [],
                        "covered": r.covered,
                    }
                    for r in report.results
                ],
                "untested": [{"env": e, "alert": a} for e, a in report.untested],
                "routes": [
                    {"env": r.env, "alert": r.alert, "labels": r.labels, "receiver": r.expected, "ok": r.ok}
                    for r in report.routes
                ],
            }
        )
    else:
        print(format_report(report))
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED


def cmd_lint(args: argparse.Namespace) -> int:
    """Every check of the registry on the spec and on each environment's result."""
    from rulesgen.lint import registry
    from rulesgen.lint.report import render_diagnostics, render_list
    from rulesgen.pipeline import lint_and_lower
    from rulesgen.spec.validate import load_spec

    if args.list:
        print(render_list(registry().values(), args.format))
        return EXIT_OK
    try:
        diagnostics, _ = lint_and_lower(load_spec(args.spec))
    except SpecErrors as exc:  # the spec does not parse: those are RG001 errors
        diagnostics = list(exc.errors)
    text = render_diagnostics(diagnostics, args.format)
    if text:
        print(text)
    if any(d.is_error for d in diagnostics):
        return EXIT_BAD_INPUT
    return EXIT_CHECK_FAILED if args.strict and diagnostics else EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    """One alert in words, PromQL, numbers, routes, panel and tests, per environment."""
    from rulesgen.explain import explain, render_text
    from rulesgen.pipeline import compile_document
    from rulesgen.spec.validate import load_spec

    compiled = compile_document(load_spec(args.spec))
    envs = [e.env for e in compiled.program.envs]
    if args.env and args.env not in envs:
        print(f"rulesgen: unknown environment {args.env!r}; known: {', '.join(envs)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    names = sorted({a.name for a in compiled.doc.alerts})
    if args.alert not in names:
        print(f"rulesgen: unknown alert {args.alert!r}{did_you_mean(args.alert, names)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    data = explain(compiled.program, compiled.tests, args.alert, [args.env] if args.env else envs)
    print(json.dumps(data, indent=2, sort_keys=True) if args.format == "json" else render_text(data))
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, Files], int]] = {
    "generate": cmd_generate,
    "check": cmd_check,
    "validate": cmd_validate,
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="rulesgen", description=__doc__)
    top.add_argument("--version", action="version", version=f"rulesgen {__version__}")
    sub = top.add_subparsers(dest="command", required=True)
    helps = {
        "generate": "compile the spec into output/ (atomically)",
        "check": "exit 1 if output/ is stale; writes nothing",
        "validate": "check the spec only; writes nothing",
        "test": "run the generated promtool tests in output/; exit 1 on a failure or a coverage gap",
        "schema": "write schema/thresholds.schema.json and docs/alert-kinds.md (beside --spec) from the models",
    }
    for name, text in helps.items():
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument("--spec", type=Path, default=Path("thresholds.yaml"), help="default: %(default)s")
        cmd.add_argument("--output", type=Path, default=Path("output"), help="default: %(default)s")
        cmd.add_argument("--format", choices=("text", "json"), default="text", help="report format")
        if name == "test":
            cmd.add_argument("--env", action="append", help="only this environment (repeatable)")
            cmd.add_argument("--junit", type=Path, help="also write JUnit XML here")
            cmd.add_argument("--jobs", type=int, default=None, help="parallel promtool processes (default: cores)")
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
    args = parser().parse_args(argv)
    with _quiet_gc():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "test":
            return cmd_test(args)
        if args.command == "lint":
            return cmd_lint(args)
        if args.command == "explain":
            return cmd_explain(args)
        if args.command == "schema":
            return cmd_schema(args)
        files = build(args.spec)
        return COMMANDS[args.command](args, files)
    except SpecErrors as exc:
        return _report_errors(exc, args.format)
    except ToolMissing as exc:  # promtool or amtool
        print(f"rulesgen: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # an unwritable output directory, a full disk
        print(f"rulesgen: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
