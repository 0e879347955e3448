"""`check` and `validate` as hash comparisons (`rulesgen/known_trees.py`): once this
rulesgen compiled a spec, they answer without compiling while `output/` holds exactly
those files; any difference (an edited, added or removed file, a changed spec, stale
schema files, a damaged cache entry) goes to the full comparison, which reports it.
`lint` and `explain` print what they printed for the same spec text, exit code too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import ROOT, SPEC, require
from rulesgen import cli, known_trees, pipeline
from rulesgen.schema import REFERENCE_PATH, SCHEMA_PATH
from rulesgen.targets import Files

Project = tuple[Path, Path]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A checkout with the shipped spec and schema files, generated and checked once (the
    first `check` of a rulesgen compares the schema files in full), and a cache of its own."""
    monkeypatch.setenv("RULESGEN_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "project"
    for rel in (SCHEMA_PATH, REFERENCE_PATH):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, root / rel)
    spec = root / "thresholds.yaml"
    shutil.copy(SPEC, spec)
    output = root / "output"
    assert cli.main(["generate", "--spec", str(spec), "--output", str(output), "--no-self-check"]) == 0
    assert check((spec, output)) == 0
    return spec, output


def compiles(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The specs compiled from here on."""
    built: list[Path] = []
    real = cli.build

    def build(spec: Path) -> Files:
        built.append(spec)
        return real(spec)

    monkeypatch.setattr(cli, "build", build)
    return built


def check(project: Project, *extra: str) -> int:
    spec, output = project
    return cli.main(["check", "--spec", str(spec), "--output", str(output), *extra])


def test_check_and_validate_of_a_compiled_spec_compile_nothing(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    built = compiles(monkeypatch)
    assert check(project) == 0
    assert "is up to date (79 files)" in capsys.readouterr().out
    assert cli.main(["validate", "--spec", str(project[0])]) == 0
    assert capsys.readouterr().out.strip() == f"{project[0]}: ok (prod, staging)"
    assert built == []


@pytest.mark.parametrize(
    "change",
    ["edit a rule file", "add a file", "remove a test", "edit the spec", "edit the schema"],
)
def test_any_difference_goes_to_the_full_comparison(
    project: Project, change: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, output = project
    rules = output / "prod" / "prometheus" / "billing.rules.yml"
    if change == "edit a rule file":
        rules.write_text(rules.read_text().replace('for: "3m"', 'for: "4m"', 1))
    elif change == "add a file":
        (output / "prod" / "notes.txt").write_text("mine\n")
    elif change == "remove a test":
        next((output / "staging" / "tests").iterdir()).unlink()
    elif change == "edit the spec":
        spec.write_text(spec.read_text().replace("threshold: 50\n", "threshold: 60\n", 1))
    else:
        schema = spec.parent / SCHEMA_PATH
        schema.write_text(schema.read_text().replace('"type"', '"type" ', 1))
    capsys.readouterr()
    built = compiles(monkeypatch)
    assert check(project) == 1
    assert built == [spec]
    assert "stale" in capsys.readouterr().out


def test_a_damaged_entry_is_a_miss(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, _ = project
    for entry in (spec.parent.parent / "cache").glob("trees/*/*"):
        entry.write_bytes(b"{not json")
    built = compiles(monkeypatch)
    assert check(project) == 0
    assert built == [spec]
    assert check(project) == 0  # the full comparison remembered the tree again
    assert built == [spec]


def test_validate_of_a_spec_with_errors_is_never_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RULESGEN_CACHE_DIR", str(tmp_path / "cache"))
    spec = tmp_path / "thresholds.yaml"
    spec.write_text(SPEC.read_text().replace("threshold: 50\n", "threshold: fifty\n", 1))
    for _ in range(2):
        assert cli.main(["validate", "--spec", str(spec)]) == 2
        assert "error(s); nothing was written" in capsys.readouterr().err


def test_lint_and_explain_print_the_same_without_compiling_again(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A warning (RG203: `for` shorter than the evaluation) keeps its exit code and words."""
    spec, _ = project
    text = spec.read_text()
    assert text.count('        for: "3m"\n') == 1
    spec.write_text(text.replace('        for: "3m"\n', '        for: "30s"\n'))
    commands = [
        ["lint", "--spec", str(spec), "--strict", "--format", "json"],
        ["explain", "BillingTransactionsFailing", "--env", "staging", "--spec", str(spec)],
    ]
    capsys.readouterr()
    first = [(cli.main(c), capsys.readouterr().out) for c in commands]
    assert first[0][0] == 1 and '"RG203"' in first[0][1] and first[1][0] == 0

    def compiled(*_: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(pipeline, "lint_document", compiled)
    monkeypatch.setattr(pipeline, "compile_document", compiled)
    assert [(cli.main(c), capsys.readouterr().out) for c in commands] == first


def test_explain_of_an_unknown_alert_is_not_remembered(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        assert cli.main(["explain", "NoSuchAlert", "--spec", str(project[0])]) == 2
        assert "unknown alert 'NoSuchAlert'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["check", "validate"])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_known_answer_is_word_for_word_the_full_one(
    project: Project, command: str, fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, output = project
    argv = [command, "--spec", str(spec), "--output", str(output), "--format", fmt]
    capsys.readouterr()
    built = compiles(monkeypatch)
    known = (cli.main(argv), capsys.readouterr())
    assert built == []
    monkeypatch.setenv("RULESGEN_CACHE_DIR", "off")
    assert (cli.main(argv), capsys.readouterr()) == known
    assert built == [spec]


def test_a_damaged_explain_entry_is_explained_again(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, _ = project
    argv = ["explain", "BillingTransactionsFailing", "--env", "staging", "--spec", str(spec)]
    capsys.readouterr()
    first = (cli.main(argv), capsys.readouterr().out)
    for entry in (spec.parent.parent / "cache").glob("results/*/*"):
        entry.write_bytes(b"\xff\xfe not text")
    assert (cli.main(argv), capsys.readouterr().out) == first


@pytest.mark.parametrize("entry", [b"{}", b'{"prod/prometheus/x.yml": 1}', b"[]"])
def test_a_tree_entry_that_is_no_tree_is_a_miss(
    project: Project, entry: bytes, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """validate trusts the entry's paths alone: one without the manifest and a hash per
    file is not what generate remembered."""
    spec, _ = project
    for path in (spec.parent.parent / "cache").glob("trees/*/*"):
        path.write_bytes(entry)
    built = compiles(monkeypatch)
    capsys.readouterr()
    assert cli.main(["validate", "--spec", str(spec)]) == 0
    assert capsys.readouterr().out.strip() == f"{spec}: ok (prod, staging)"
    assert built == [spec]


def test_a_schema_entry_that_is_no_list_of_hashes_is_a_miss(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Paths the project does not have would say it ships no schema files: stale ones
    must still fail `check`."""
    spec, _ = project
    schema = spec.parent / SCHEMA_PATH
    schema.write_text(schema.read_text().replace('"type"', '"type" ', 1))
    for path in (spec.parent.parent / "cache").glob("trees/*/*"):
        if b"schema" not in path.read_bytes():
            continue
        path.write_bytes(b'{"nowhere.json": 1}')
    assert check(project) == 1
    assert "stale" in capsys.readouterr().out


def test_generate_with_nothing_to_write_compiles_nothing_once_its_files_were_self_checked(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fixture wrote output/ without the self-check: the first `generate` compiles
    and has promtool and amtool judge the files; the next finds them judged, by the same
    tools, and output/ already holding them, and prints the same words (text and JSON)."""
    require("promtool")
    require("amtool")
    spec, output = project
    argv = ["generate", "--spec", str(spec), "--output", str(output)]
    capsys.readouterr()
    built = compiles(monkeypatch)

    def generate(*extra: str) -> str:
        assert cli.main([*argv, *extra]) == 0
        return capsys.readouterr().out

    full = generate()
    assert built == [spec] and "wrote 79 files to" in full and "(0 changed)" in full
    assert generate() == full and built == [spec]
    known_json = generate("--format", "json")
    assert built == [spec]
    monkeypatch.setenv("RULESGEN_CACHE_DIR", "off")
    assert generate("--format", "json") == known_json and built == [spec, spec]
    monkeypatch.undo()
    built = compiles(monkeypatch)
    monkeypatch.setenv("RULESGEN_CACHE_DIR", str(spec.parent.parent / "cache"))
    (output / "prod" / "notes.txt").write_text("mine\n")  # a file rulesgen did not write: refused
    assert cli.main(argv) == 2 and built == [spec]


@pytest.mark.parametrize("output", ["/", "."])
def test_a_refused_output_is_never_read(
    project: Project, output: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A known spec does not make `generate` look at a location it refuses (`/` holds
    /proc, whose files block a reader): the refusal comes first, from the full path."""
    spec, _ = project
    monkeypatch.chdir(spec.parent)
    assert cli.main(["validate", "--spec", spec.name]) == 0  # known by the path given, as below

    def scan(root: Path) -> None:
        raise AssertionError(f"read {root}")

    monkeypatch.setattr(known_trees, "scan_tree", scan)
    assert cli.main(["generate", "--spec", spec.name, "--output", output, "--no-self-check"]) == 2
    assert f"refusing --output {output}" in capsys.readouterr().err
