"""The generated tree held compressed (`rulesgen.filetree`) and the tests rendered as they
are generated (`testgen.generate.iter_tests`): what keeps `generate`'s memory bounded
at thousands of alerts, with the output unchanged."""

from __future__ import annotations

import hashlib
import tracemalloc

import pytest

from conftest import minimal_text
from rulesgen.errors import SpecErrors
from rulesgen.filetree import FileTree, digest_of, same_file
from rulesgen.lower.alerts import AlertCompiler
from rulesgen.pipeline import alert_pairs, build_text, compile_document, files_of
from rulesgen.spec.validate import parse_spec
from rulesgen.targets import emit_all, target_options
from rulesgen.testgen import generate
from rulesgen.testgen.generate import iter_tests


def _test_file(i: int) -> bytes:
    """A promtool test file's shape: many similar series lines."""
    lines = [
        f'- series: \'c_total{{instance="i{i}-{k}",job="billing"}}\'\n  values: "0+{k}x120 stale 0+1x60"\n'
        for k in range(4000)
    ]
    return "".join(lines).encode()


def test_files_read_back_as_written_with_their_sha256() -> None:
    files = {"a/small.yml": b"groups: []\n", "b/big.promtool-test.yaml": _test_file(1), "empty": b""}
    tree = FileTree(files)
    assert dict(tree.items()) == files
    for rel, content in files.items():
        assert tree.digest(rel) == hashlib.sha256(content).hexdigest() == digest_of(files, rel)
    assert list(tree) == list(files)


def test_a_large_tree_is_held_in_a_fraction_of_its_size() -> None:
    contents = [_test_file(i) for i in range(10)]
    size = sum(map(len, contents))
    tracemalloc.start()
    try:
        tree = FileTree()
        for i, content in enumerate(contents):
            tree[f"prod/tests/A{i}.promtool-test.yaml"] = content
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 3_000_000
    assert held < size / 5, f"{held} bytes held for {size} bytes of files"
    assert [tree[f"prod/tests/A{i}.promtool-test.yaml"] for i in range(10)] == contents


def test_sorted_trees_and_comparisons_go_by_content() -> None:
    tree = FileTree({"b": b"2", "a": b"1" * 10_000})
    ordered = tree.sorted()
    assert list(ordered) == ["a", "b"] and ordered == tree and ordered["a"] == b"1" * 10_000
    changed = FileTree(tree)
    changed["b"] = b"3"
    assert changed != tree and tree == {"a": b"1" * 10_000, "b": b"2"}
    assert same_file(tree, ordered, "a") and not same_file(tree, changed, "b")
    assert not same_file(tree, {"b": b"2"}, "a") and same_file(tree, {}, "missing")


def test_tests_are_yielded_as_each_alert_is_generated(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream hands over an alert's tests before generating the next alert's: the
    promtool target renders (and compresses) them while the rest are still to come."""
    doc = parse_spec(minimal_text(), "thresholds.yaml")
    compiled = compile_document(doc, tests=False)
    calls: list[str] = []
    original = generate.TestGenerator.tests

    def counted(self: generate.TestGenerator, alert, model, errors):  # type: ignore[no-untyped-def]
        calls.append(alert.name)
        return original(self, alert, model, errors)

    monkeypatch.setattr(generate.TestGenerator, "tests", counted)
    stream = iter_tests(doc, AlertCompiler(doc).resolve, alert_pairs(compiled.contexts))
    first = next(stream)
    assert calls == [first.alert]
    rest = list(stream)
    assert len(calls) == 1 + len(rest) >= 2
    assert [t.alert for t in [first, *rest]] == sorted(t.alert for t in [first, *rest])


def test_streamed_output_equals_the_held_suite() -> None:
    doc = parse_spec(minimal_text(), "thresholds.yaml")
    held = files_of(compile_document(doc))
    assert build_text(minimal_text()) == held
    assert any(rel.endswith(".promtool-test.yaml") for rel in held)


def test_every_untestable_alert_is_reported_when_streaming() -> None:
    """Both alerts' RG004 errors at once, after the stream ends, and no file."""
    text = minimal_text().replace('window: "5m"', 'window: "10000w"')
    with pytest.raises(SpecErrors) as caught:
        build_text(text)
    lines = sorted(e.line for e in caught.value.errors if e.code == "RG004")
    assert lines == [25, 36]


def test_untestable_alerts_are_errors_when_no_target_reads_the_tests() -> None:
    """With promtool_tests disabled no target reads the stream, and its RG004 errors
    are still the spec's errors (as `lint` and `compile_document` report them): no files."""
    text = minimal_text().replace('window: "5m"', 'window: "10000w"') + "targets:\n  promtool_tests: {enabled: false}\n"
    with pytest.raises(SpecErrors) as caught:
        build_text(text)
    assert sorted(e.line for e in caught.value.errors if e.code == "RG004") == [25, 36]
    with pytest.raises(SpecErrors) as held:
        compile_document(parse_spec(text, "thresholds.yaml"))
    assert caught.value.errors == held.value.errors


def test_a_second_target_reading_the_tests_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read twice, a stream is empty the second time: a target added later that also
    read the tests would silently get none, so emit_all refuses the second read."""
    from rulesgen.targets import base, registry

    def reads_tests(program: object, tests: base.Tests, options: base.Options) -> base.Files:
        return {f"extra/{t.alert}": b"" for t in tests}

    targets = dict(registry())
    targets["zz_reads_tests"] = base.Target("zz_reads_tests", base.Options, reads_tests)
    monkeypatch.setattr("rulesgen.targets.registry", lambda: targets)
    doc = parse_spec(minimal_text(), "thresholds.yaml")
    compiled = compile_document(doc)
    options = {**target_options(doc, []), "zz_reads_tests": base.Options()}
    with pytest.raises(RuntimeError, match="read by two targets"):
        emit_all(compiled.program, compiled.tests, options)
