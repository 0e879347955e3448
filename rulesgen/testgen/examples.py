"""SRE-written examples: input series in promtool notation and when the alert fires.

Examples are checked against the thresholds before they become tests: an example
that expects a page the spec would not give is a spec error, not a red CI run.
"""

from __future__ import annotations

import re

from rulesgen.errors import Diagnostic
from rulesgen.kinds.base import AlertModel, Resolve
from rulesgen.spec.validate import Document
from rulesgen.testgen.samples import input_series
from rulesgen.testgen.simulation import Plan, PlannedCheck, Simulation

_TOKEN = re.compile(r"^(?:_(?:x(\d+))?|(-?[0-9.eE+]+)(?:([+-])([0-9.eE+]+)x(\d+))?)$")
_SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_values(text: str) -> list[float | None]:
    """promtool's expanding notation: `1 2 _ 0+10x5 100-5x3 _x2`."""
    out: list[float | None] = []
    for token in text.split():
        match = _TOKEN.match(token)
        if match is None:
            raise ValueError(f"{token!r} is not promtool series notation (like 1, _, 0+1x10, 5-1x3, _x4)")
        blanks, start, sign, delta, count = match.groups()
        if token.startswith("_"):
            out.extend([None] * (int(blanks) if blanks else 1))
            continue
        try:
            first = float(start)
            if sign is None:
                out.append(first)
                continue
            step = float(delta) * (1 if sign == "+" else -1)
        except ValueError:
            raise ValueError(f"{token!r} is not promtool series notation") from None
        out.extend(first + step * k for k in range(int(count) + 1))
    if not out:
        raise ValueError("no values")
    return out


def parse_series(text: str) -> tuple[str, dict[str, str]]:
    """`metric{a="b"}` into its name and labels."""
    match = _SERIES.match(text.strip())
    if match is None:
        raise ValueError(f'{text!r} is not a series like metric{{label="value"}}')
    labels: dict[str, str] = {}
    body = match.group(2) or ""
    pos = 0
    while pos < len(body.strip()):
        label = _LABEL.match(body, pos)
        if label is None:
            raise ValueError(f"cannot read the labels of {text!r}")
        labels[label.group(1)] = re.sub(r"\\(.)", r"\1", label.group(2))
        pos = label.end()
    return match.group(1), labels


def _fmt(label_sets: list[tuple[tuple[str, str], ...]]) -> str:
    if not label_sets:
        return "nothing"
    return ", ".join("{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}" for labels in label_sets)


def example_plans(alert: AlertModel, resolve: Resolve, spec: Document, errors: list[Diagnostic]) -> list[Plan]:
    """The alert's examples as plans, each checked against the thresholds first."""
    at = spec.alert_path(alert.name)
    out = []
    for n, example in enumerate(alert.examples):
        where = (*at, "examples", n)
        parsed = []
        for j, item in enumerate(example.input_series):
            try:
                metric, labels = parse_series(item.series)
            except ValueError as exc:
                errors.append(spec.positions.error((*where, "input_series", j, "series"), str(exc)))
                continue
            try:
                parsed.append((metric, labels, parse_values(item.values)))
            except ValueError as exc:
                errors.append(spec.positions.error((*where, "input_series", j, "values"), str(exc)))
        for k, expect in enumerate(example.expect):
            if expect.alert is not None and expect.alert != alert.name:
                known = spec.has_alert(expect.alert)
                why = "examples can only expect the alert they belong to" if known else "unknown alert"
                errors.append(spec.positions.error((*where, "expect", k, "alert"), f"{why}: {expect.alert!r}"))
        if errors:
            continue
        steps = [expect.at.ms // example.interval.ms for expect in example.expect]
        length = max(max(steps) + 1, *(len(v) for _, _, v in parsed))
        sim = Simulation(alert, resolve, example.interval, length)
        for metric, labels, values in parsed:
            sim.sim.put(metric, labels, values + [None] * (length - len(values)))
        states = sim.run()
        checks = []
        for k, (expect, step) in enumerate(zip(example.expect, steps, strict=True)):
            got = sorted(f.labels for f in states[step])
            want = sorted(tuple(sorted(d.items())) for d in expect.firing)
            if got != want:
                errors.append(
                    spec.positions.error(
                        (*where, "expect", k),
                        f"at {expect.at} the thresholds make {_fmt(got)} fire, but the example expects {_fmt(want)}",
                    )
                )
                continue
            checks.append(PlannedCheck(step, tuple(states[step])))
        series = tuple(input_series(m, tuple(sorted(lb.items())), values) for m, lb, values in parsed)
        out.append(Plan(f"example_{n}", "example", example.interval, series, tuple(checks), example.interval))
    return out
