"""The spec loader: positions of every key and value, YAML 1.2 core values, and an
error with line and column for whatever YAML 1.1 reads differently, control
characters and numbers that are not finite."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import minimal_text
from rulesgen.cli import main
from rulesgen.errors import SpecErrors
from rulesgen.spec.loader import load_yaml


def errors_of(text: str) -> list[str]:
    with pytest.raises(SpecErrors) as err:
        load_yaml(text, "f.yaml")
    return [str(e) for e in err.value.errors]


def test_positions_of_keys_and_values() -> None:
    data, pos = load_yaml("a:\n  b: [1, 2]\n  c: x\n", "f.yaml")
    assert data == {"a": {"b": [1, 2], "c": "x"}}
    assert pos.values[("a", "b", 1)] == (2, 10)
    assert pos.keys[("a", "c")] == (3, 3)
    assert pos.values[("a", "c")] == (3, 6)
    assert pos.of(("a", "c", "missing")) == (3, 6)
    assert str(pos.error(("a", "b"), "boom")) == "f.yaml:2:6: a.b: boom"


def test_empty_document_is_none() -> None:
    data, pos = load_yaml("# only a comment\n", "f.yaml")
    assert data is None
    assert pos.of(("anything",)) == (1, 1)


# (id, YAML text, the value of `a` under YAML 1.2 core, which YAML 1.1 reads the same way)
VALID: list[tuple[str, str, Any]] = [
    ("decimal", "a: 42", 42),
    ("signed", "a: -7", -7),
    ("explicit plus", "a: +0", 0),
    ("zero", "a: 0", 0),
    ("leading zeros below eight", "a: 007", 7),
    ("hex", "a: 0x1F", 31),
    ("float", "a: 0.25", 0.25),
    ("trailing dot", "a: 1.", 1.0),
    ("leading dot", "a: .5", 0.5),
    ("exponent with sign", "a: 1.5e+3", 1500.0),
    ("negative exponent", "a: 2.0e-05", 2.0e-05),
    ("large int that fits a float", "a: 100000000000000000000000", 10**23),
    ("true", "a: true", True),
    ("capitalised false", "a: False", False),
    ("null", "a: null", None),
    ("tilde", "a: ~", None),
    ("empty", "a:", None),
    ("quoted yes", 'a: "yes"', "yes"),
    ("quoted octal", "a: '010'", "010"),
    ("quoted time", 'a: "1:30"', "1:30"),
    ("explicit str tag", "a: !!str 0o10", "0o10"),
    ("word", "a: noon", "noon"),
    ("duration", "a: 5m", "5m"),
    ("newline and tab escapes", 'a: "x\\ny\\tz"', "x\ny\tz"),
    ("block scalar", "a: |\n  one\n  two\n", "one\ntwo\n"),
    ("single-quoted backslash is not an escape", "a: '\\x07'", "\\x07"),
    ("unicode text", "a: 'café ✓'", "café ✓"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in VALID], ids=[c[0] for c in VALID])
def test_values_both_versions_agree_on(text: str, expected: Any) -> None:
    data, _ = load_yaml(text + "\n", "f.yaml")
    assert data == {"a": expected}
    assert type(data["a"]) is type(expected)


# (id, YAML text, every expected error)
INVALID: list[tuple[str, str, list[str]]] = [
    (
        "sexagesimal",
        "a: 1:30",
        [
            "f.yaml:1:4: a: YAML 1.1 reads 1:30 as the base-60 number 90 but YAML 1.2 as the text '1:30'; "
            'quote it ("1:30") for text'
        ],
    ),
    (
        "yaml 1.1 octal",
        "a: 010",
        [
            "f.yaml:1:4: a: YAML 1.1 reads 010 as the octal number 8 but YAML 1.2 as the number 10; "
            'write 10 without leading zeros, 0o10 for octal, or quote it ("010") for text'
        ],
    ),
    (
        "yaml 1.2 octal",
        "a: 0o10",
        [
            "f.yaml:1:4: a: YAML 1.1 reads 0o10 as the text '0o10' but YAML 1.2 as the octal number 8; "
            'quote it ("0o10") for text, or write 8 for the number'
        ],
    ),
    (
        "leading zero with a digit 8 or 9",
        "a: 09",
        [
            "f.yaml:1:4: a: YAML 1.1 reads 09 as the text '09' but YAML 1.2 as the number 9; "
            'quote it ("09") for text, or write 9 for the number'
        ],
    ),
    (
        "binary",
        "a: 0b101",
        [
            "f.yaml:1:4: a: YAML 1.1 reads 0b101 as the binary number 5 but YAML 1.2 as the text '0b101'; "
            'quote it ("0b101") for text'
        ],
    ),
    (
        "digit separators",
        "a: 1_000",
        [
            "f.yaml:1:4: a: YAML 1.1 reads 1_000 as the number 1000 but YAML 1.2 as the text '1_000'; "
            'quote it ("1_000") for text'
        ],
    ),
    (
        "signed hex",
        "a: -0x1F",
        [
            "f.yaml:1:4: a: YAML 1.1 reads -0x1F as the number -31 but YAML 1.2 as the text '-0x1F'; "
            'quote it ("-0x1F") for text'
        ],
    ),
    (
        "exponent without a dot",
        "a: 1e3",
        [
            "f.yaml:1:4: a: YAML 1.1 reads 1e3 as the text '1e3' but YAML 1.2 as the number 1000.0; "
            'quote it ("1e3") for text, or write 1000.0 for the number'
        ],
    ),
    (
        "date",
        "a: 2024-01-31",
        [
            "f.yaml:1:4: a: YAML 1.1 reads 2024-01-31 as a date but YAML 1.2 as the text '2024-01-31'; "
            'quote it ("2024-01-31") for text'
        ],
    ),
    (
        "value key",
        "a: =",
        [
            "f.yaml:1:4: a: YAML 1.1 reads = as its default-value key but YAML 1.2 as the text '='; quote it (\"=\") for text"
        ],
    ),
    (
        "yes",
        "a: yes",
        [
            "f.yaml:1:4: a: YAML reads the bare word 'yes' as a boolean; quote it (\"yes\") for text, or write true/false"
        ],
    ),
    (
        "on as a key",
        "on: 1",
        ["f.yaml:1:1: YAML reads the bare word 'on' as a boolean; quote it (\"on\") for text, or write true/false"],
    ),
    (
        "one-letter boolean",
        "a: [x, n]",
        ["f.yaml:1:8: a[1]: YAML reads the bare word 'n' as a boolean; quote it (\"n\") for text, or write true/false"],
    ),
    ("infinity", "a: .inf", ["f.yaml:1:4: a: .inf is not a finite number; numbers must be finite"]),
    ("negative infinity", "a: -.Inf", ["f.yaml:1:4: a: -.Inf is not a finite number; numbers must be finite"]),
    ("not a number", "a: .nan", ["f.yaml:1:4: a: .nan is not a finite number; numbers must be finite"]),
    (
        "overflowing float",
        "a: 1.0e+999",
        ["f.yaml:1:4: a: the number 1.0e+999 is too large (it overflows to infinity)"],
    ),
    ("overflow without a dot", "a: 1e999", ["f.yaml:1:4: a: the number 1e999 is too large (it overflows to infinity)"]),
    (
        "int beyond any float",
        "a: 1" + "0" * 400,
        [
            "f.yaml:1:4: a: the number 10000000000000000000...0000000000 (401 characters) is too large (it overflows to infinity)"
        ],
    ),
    (
        "int beyond int() digits",
        "a: " + "9" * 5000,
        [
            "f.yaml:1:4: a: the number 99999999999999999999...9999999999 (5000 characters) is too large (it overflows to infinity)"
        ],
    ),
    (
        "escaped bell",
        'a:\n  b: "ding\\a"',
        [
            "f.yaml:2:6: a.b: text contains the control character U+0007 ('\\x07'); only newlines and tabs may appear in text"
        ],
    ),
    (
        "escaped terminal escape",
        'a: "\\e[31mred"',
        [
            "f.yaml:1:4: a: text contains the control character U+001B ('\\x1b'); only newlines and tabs may appear in text"
        ],
    ),
    (
        "escaped carriage return",
        'a: "x\\ry"',
        [
            "f.yaml:1:4: a: text contains the control character U+000D ('\\r'); only newlines and tabs may appear in text"
        ],
    ),
    (
        "escaped NUL",
        'a: "\\0"',
        [
            "f.yaml:1:4: a: text contains the control character U+0000 ('\\x00'); only newlines and tabs may appear in text"
        ],
    ),
    (
        "escaped C1 control",
        'a: "\\x9b"',
        [
            "f.yaml:1:4: a: text contains the control character U+009B ('\\x9b'); only newlines and tabs may appear in text"
        ],
    ),
    (
        "control character in a key",
        '"k\\x1b": 1',
        ["f.yaml:1:1: text contains the control character U+001B ('\\x1b'); only newlines and tabs may appear in text"],
    ),
    (
        "raw control characters, each located",
        "a: x\x07\nb:\n  - 'y\x00z'\n",
        [
            "f.yaml:1:5: the control character U+0007 ('\\x07') is not allowed in the spec",
            "f.yaml:3:7: the control character U+0000 ('\\x00') is not allowed in the spec",
        ],
    ),
    (
        "raw control character after CRLF lines",
        "a: 1\r\nb: \x1b\r\n",
        ["f.yaml:2:4: the control character U+001B ('\\x1b') is not allowed in the spec"],
    ),
    (
        "next line character",
        "a: x\x85y",
        ["f.yaml:1:5: U+0085 is a line break in YAML 1.1 but not in YAML 1.2; use a plain newline"],
    ),
    (
        "line separator",
        "a: x\u2028y",
        ["f.yaml:1:5: U+2028 is a line break in YAML 1.1 but not in YAML 1.2; use a plain newline"],
    ),
    ("non-character", "a: x\ufffe", ["f.yaml:1:5: U+FFFE is not a character YAML allows"]),
    ("unknown tag", "a: !thing x", ["f.yaml:1:4: a: unsupported YAML tag '!thing'; write the value without a tag"]),
    (
        "python tag",
        "a: !!python/object:os.system x",
        [
            "f.yaml:1:4: a: unsupported YAML tag 'tag:yaml.org,2002:python/object:os.system'; write the value without a tag"
        ],
    ),
    (
        "explicit int tag",
        "a: !!int 010",
        ["f.yaml:1:4: a: unsupported YAML tag 'tag:yaml.org,2002:int'; write the value without a tag"],
    ),
    (
        "set",
        "a: !!set {x, y}",
        ["f.yaml:1:4: a: unsupported YAML tag 'tag:yaml.org,2002:set'; write the value without a tag"],
    ),
    (
        "merge key as a value",
        "a: <<",
        ["f.yaml:1:4: a: '<<' is YAML's merge key and only works as a key; quote it for text"],
    ),
    (
        "merge of a scalar",
        "a:\n  <<: 5",
        ["f.yaml:2:7: a: the merge key '<<' takes a mapping (`<<: *anchor`) or a list of them"],
    ),
    ("merge into itself", "a: &x {<<: *x}", ["f.yaml:1:4: a: the merge key '<<' merges a mapping into itself"]),
    ("alias cycle", "a: &x [1, *x]", ["f.yaml:1:4: a[1]: an alias refers to a collection that contains it (a cycle)"]),
    ("deep nesting", "a: " + "[" * 120 + "]" * 120, ["f.yaml:1:104: a: nested more than 100 levels deep"]),
    (
        "exponential aliases",
        "a: &a [1, 2, 3, 4, 5, 6, 7, 8]\n"
        + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 8)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True)),
        ["f.yaml:1:4: d[5][0][6]: anchors and aliases expand into too many values; is an alias recursive?"],
    ),
    (
        "duplicate key",
        "a: 1\nb: 2\na: 3",
        ["f.yaml:3:1: a: duplicate key 'a' (YAML would silently keep only the last one)"],
    ),
    (
        "several problems reported together, in file order",
        'x: 010\ny: [.inf, ok]\nz: "\\a"',
        [
            "f.yaml:1:4: x: YAML 1.1 reads 010 as the octal number 8 but YAML 1.2 as the number 10; "
            'write 10 without leading zeros, 0o10 for octal, or quote it ("010") for text',
            "f.yaml:2:1: YAML reads the bare word 'y' as a boolean; quote it (\"y\") for text, or write true/false",
            "f.yaml:2:5: y[0]: .inf is not a finite number; numbers must be finite",
            "f.yaml:3:4: z: text contains the control character U+0007 ('\\x07'); only newlines and tabs may appear in text",
        ],
    ),
    (
        "malformed YAML",
        "a: [1,\nb: 2",
        [
            "f.yaml:3:1: malformed YAML: did not find expected ',' or ']' "
            "(while parsing a flow sequence opened at line 1, column 4)"
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_input_is_an_error_with_its_position(text: str, expected: list[str]) -> None:
    assert errors_of(text) == expected


@pytest.mark.parametrize("word", ["No", "yes", "off", "On", "NO", "y", "N"])
def test_yaml11_booleans_are_rejected(word: str) -> None:
    assert errors_of(f"summary: {word}\n") == [
        f"f.yaml:1:10: summary: YAML reads the bare word {word!r} as a boolean; "
        f'quote it ("{word}") for text, or write true/false'
    ]


def test_quoted_and_yaml12_booleans_are_fine() -> None:
    data, _ = load_yaml('a: "No"\nb: true\nc: false\nd: TRUE\n', "f.yaml")
    assert data == {"a": "No", "b": True, "c": False, "d": True}


def test_merge_keys_resolve() -> None:
    data, _ = load_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  z: 2\n", "f.yaml")
    assert data["other"] == {"x": 1, "z": 2}


def test_explicit_keys_override_merged_ones_and_point_at_themselves() -> None:
    text = "a: &a {x: 1, w: 0}\nb: &b {x: 2, v: 3}\nc:\n  x: 9\n  <<: [*a, *b]\n"
    data, pos = load_yaml(text, "f.yaml")
    assert data["c"] == {"w": 0, "v": 3, "x": 9}
    assert pos.values[("c", "x")] == (4, 6)
    assert pos.values[("c", "v")] == (2, 17)  # a merged value points where it is written


def test_aliases_expand_into_copies_with_positions() -> None:
    data, pos = load_yaml("a: &l [1, 2]\nb: *l\n", "f.yaml")
    assert data == {"a": [1, 2], "b": [1, 2]}
    assert data["a"] is not data["b"]
    assert pos.values[("b", 1)] == (1, 11)


def test_loaded_floats_are_always_finite() -> None:
    data, _ = load_yaml("a: [1.7976931348623157e+308, -1.7976931348623157e+308, 5.0e-324]\n", "f.yaml")
    assert all(math.isfinite(x) for x in data["a"])


def test_errors_name_both_yaml_versions() -> None:
    # What the issue asks for: the message itself says why it is ambiguous.
    for text in ("a: 1:30", "a: 010", "a: 0b101", "a: 1_000", "a: 0o10"):
        (message,) = errors_of(text)
        assert re.search(r"YAML 1\.1 reads .* but YAML 1\.2 as ", message), message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (".inf", ".inf is not a finite number; numbers must be finite"),
        ("1e999", "the number 1e999 is too large (it overflows to infinity)"),
        ("010", "YAML 1.1 reads 010 as the octal number 8 but YAML 1.2 as the number 10"),
    ],
)
def test_cli_reports_the_value_with_exit_2(
    value: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(minimal_text().replace("    threshold: 5\n", f"    threshold: {value}\n", 1))
    assert main(["validate", "--spec", str(spec), "--output", str(tmp_path / "out")]) == 2
    printed = capsys.readouterr()
    assert printed.err.startswith(f"{spec}:31:16: alerts[0].threshold: {message}")
    assert "Traceback" not in printed.out + printed.err


@pytest.mark.parametrize("text", ["1e3", "1e-7", "-.5", "0o17", "09", "1e308", "+.5e2"])
def test_the_suggested_spelling_is_read_alike_by_both_versions(text: str) -> None:
    (message,) = errors_of(f"a: {text}")
    suggestion = re.search(r"write (\S+) for the number$", message)
    assert suggestion is not None, message
    data, _ = load_yaml(f"a: {suggestion[1]}", "f.yaml")
    assert data["a"] == (int(text[2:], 8) if text.startswith("0o") else float(text))
