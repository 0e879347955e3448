"""The test generator's shortcuts change no output: plans shared between alerts that
differ only in naming and routing fields, and samples folded into runs (the IR's
data) and written as promtool's notation."""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Sequence

import yaml

from conftest import SPEC
from rulesgen.ir import InputSeries
from rulesgen.lower.alerts import AlertCompiler
from rulesgen.pipeline import compile_document
from rulesgen.spec.validate import load_spec
from rulesgen.targets.promtool_notation import _num, values_text
from rulesgen.targets.promtool_tests import unit_test_documents
from rulesgen.targets.yamlout import Repeated, dump
from rulesgen.testgen.generate import plan_key
from rulesgen.testgen.planner import plan_scenarios
from rulesgen.testgen.samples import runs_of


def notation(samples: Sequence[float | None]) -> str:
    return values_text(runs_of(samples))


def same(a: float | None, b: float | None) -> bool:
    """Equal as samples: NaN (a staleness marker) is one."""
    return a == b or (a is not None and b is not None and math.isnan(a) and math.isnan(b))


def test_plans_ignore_the_fields_the_plan_cache_ignores() -> None:
    doc = load_spec(SPEC)
    resolve = AlertCompiler(doc).resolve
    kinds = set()
    for alert in doc.alerts:
        if not alert.enabled:
            continue
        renamed = alert.model_copy(
            update={
                field: value
                for field, value in {
                    "name": "RenamedAlert",
                    "team": "another_team",
                    "severity": "another_severity",
                    "ticket_severity": "another_severity",
                    "summary": "another summary",
                    "description": "another description",
                    "runbook_url": "https://runbooks.example/other",
                    "labels": {"extra": "label"},
                    "quantity": "another_quantity",
                }.items()
                if field in type(alert).model_fields
            }
        )
        assert plan_key(renamed) == plan_key(alert)
        before = plan_scenarios(alert, resolve, doc.header.label_sets)
        assert plan_scenarios(renamed, resolve, doc.header.label_sets) == before, alert.name
        kinds.add(alert.kind)
    assert len(kinds) >= 6  # the shipped spec exercises every kind that plans scenarios


def reference_notation(samples: Sequence[float | None]) -> str:
    """The notation written one sample at a time: what `notation` must equal."""
    parts: list[str] = []
    i = 0
    while i < len(samples):
        value = samples[i]
        if value is None:
            j = i
            while j + 1 < len(samples) and samples[j + 1] is None:
                j += 1
            parts.append("_" if j == i else f"_x{j - i + 1}")
            i = j + 1
            continue
        j = i
        following = samples[i + 1] if i + 1 < len(samples) else None
        if following is not None:
            delta = following - value
            while j + 1 < len(samples):
                after = samples[j + 1]
                current = samples[j]
                if after is None or current is None or after - current != delta:
                    break
                j += 1
            if j > i and all(value + delta * k == samples[i + k] for k in range(j - i + 1)):
                sign = "+" if delta >= 0 else "-"
                parts.append(f"{_num(value)}{sign}{_num(abs(delta))}x{j - i}")
                i = j + 1
                continue
        parts.append(_num(value))
        i += 1
    return " ".join(parts)


def test_notation_matches_the_sample_by_sample_definition() -> None:
    rng = random.Random(7)
    values = [0.0, -0.0, 1.0, 2.0, 0.1, 0.2, 1 / 3, 100.0, 1e300, -5.0, math.inf, -math.inf, math.nan]
    for _ in range(20_000):
        samples: list[float | None] = []
        current, step = rng.choice(values), rng.choice(values)
        for _ in range(rng.randint(0, 16)):
            roll = rng.random()
            if roll < 0.15:
                samples.append(None)
                continue
            if roll < 0.25:
                step = rng.choice(values)
            elif roll > 0.85:
                current = rng.choice(values) - step
            current += step
            samples.append(current)
        assert notation(samples) == reference_notation(samples), samples
        back = InputSeries("m", (), runs_of(samples)).samples()
        assert len(back) == len(samples) and all(map(same, back, samples)), samples


def test_notation_of_long_series() -> None:
    counter = [float(100 * i) for i in range(3000)]
    gappy: list[float | None] = [*counter[:500], *[None] * 2000, *counter[2500:]]
    for samples in (counter, gappy, [0.1 * i for i in range(3000)]):
        assert notation(samples) == reference_notation(samples)


def test_a_repeated_value_is_written_as_it_would_be_unmarked_at_each_indent() -> None:
    alerts = ({"exp_labels": {"a": "1", "no": "No"}, "exp_annotations": {"d": "x\ny"}},)
    shared = Repeated(alerts)
    doc = {
        "tests": [
            {"checks": [{"at": "1m", "exp_alerts": shared}, {"at": "2m", "exp_alerts": shared}]},
            {"deeper": {"exp_alerts": shared}, "also": [shared, shared]},
        ]
    }

    def unmarked(value: object) -> object:
        if isinstance(value, dict):
            return {k: unmarked(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [unmarked(v) for v in value]
        return value

    text = dump(doc)
    assert text == dump(unmarked(doc))
    assert yaml.safe_load(text) == unmarked(doc)
    assert text.count(b"exp_labels") == 5


def test_the_tests_of_one_alert_share_each_distinct_outcome() -> None:
    suite = compile_document(load_spec(SPEC)).tests
    tests = next(t for t in suite if t.alert == "BillingPendingBacklog")
    documents = unit_test_documents(tests)
    outcomes = [check["exp_alerts"] for d in documents.values() for t in d["tests"] for check in t["alert_rule_test"]]
    assert len({id(o) for o in outcomes}) == len({tuple(map(repr, o)) for o in outcomes}) < len(outcomes)


def test_equal_samples_under_other_names_are_written_once() -> None:
    samples = [0.0, 1.5, 3.0, None, math.nan, 7.0]
    first, again = runs_of(samples), array("d", runs_of(samples))
    assert first is not again
    assert values_text(again) is values_text(first) == "0+1.5x2 _ stale 7"
    assert values_text(array("d", [*first[:-3], 8.0, 0.0, 1.0])) == "0+1.5x2 _ stale 8"
