from __future__ import annotations

import pytest

from rulesgen.errors import SpecErrors
from rulesgen.spec.loader import load_yaml


def test_positions_of_keys_and_values() -> None:
    data, pos = load_yaml("a:\n  b: [1, 2]\n  c: x\n", "f.yaml")
    assert data == {"a": {"b": [1, 2], "c": "x"}}
    assert pos.values[("a", "b", 1)] == (2, 10)
    assert pos.keys[("a", "c")] == (3, 3)
    assert pos.values[("a", "c")] == (3, 6)


@pytest.mark.parametrize("word", ["No", "yes", "off", "On", "NO"])
def test_yaml11_booleans_are_rejected(word: str) -> None:
    with pytest.raises(SpecErrors) as err:
        load_yaml(f"summary: {word}\n", "f.yaml")
    text = str(err.value)
    assert f"f.yaml:1:10: summary: YAML reads the bare word {word!r} as a boolean" in text


def test_quoted_and_yaml12_booleans_are_fine() -> None:
    data, _ = load_yaml('a: "No"\nb: true\nc: false\n', "f.yaml")
    assert data == {"a": "No", "b": True, "c": False}


def test_duplicate_keys_are_errors() -> None:
    with pytest.raises(SpecErrors) as err:
        load_yaml("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert str(err.value) == "f.yaml:3:1: a: duplicate key 'a' (YAML would silently keep only the last one)"


def test_merge_keys_resolve() -> None:
    data, _ = load_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", "f.yaml")
    assert data["other"] == {"x": 1, "y": 2}
