"""Whether `output/` is what the spec generates, split by consequence for `rulesgen test`.

The generated files to compare with are the caller's (the CLI compiles the spec): this
module only compares them with the tree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rulesgen.writer import compare_tree


@dataclass
class Freshness:
    """How `output/` differs from what `generate` would write, split by consequence."""

    stale: list[str] = field(default_factory=list)  # tests, routing, dashboards: the spec moved on
    edited: list[str] = field(default_factory=list)  # deployed rule files: run, and judged by the tests
    diff: str = ""


def freshness(output: Path, files: Mapping[str, bytes], envs: Iterable[str]) -> Freshness:
    """Compare the environments `envs` of `output/` with the generated `files`.

    A deployed rule file that differs is what the tests exist to judge, so it is
    reported as edited and still tested; any other difference means the spec changed
    without `rulesgen generate`, and the tests themselves would be out of date."""
    prefixes = tuple(f"{env}/" for env in envs)
    drift = compare_tree(output, files)
    result = Freshness(diff=drift.diff)
    for path in sorted({*drift.missing, *drift.extra, *drift.changed}):
        if not path.startswith(prefixes):
            continue
        if path.split("/")[1:2] == ["prometheus"]:
            result.edited.append(path)
        else:
            result.stale.append(path)
    return result
