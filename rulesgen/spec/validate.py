"""Load and validate thresholds.yaml into typed models, reporting every error with its position."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from rulesgen.errors import Path, SpecError, SpecErrors, did_you_mean
from rulesgen.kinds import alert_adapter, registry
from rulesgen.kinds.base import AlertModel
from rulesgen.spec.guards import derive_guards
from rulesgen.spec.loader import Positions, load_yaml
from rulesgen.spec.models import SpecHeader


@dataclass(frozen=True)
class Document:
    """A parsed spec: header sections, alerts in file order, and where everything is.
    Cross-references are checked later, per environment, by the lint registry."""

    file: str
    header: SpecHeader
    alerts: tuple[AlertModel, ...]
    positions: Positions
    sha256: str = ""  # of the spec's text: what generated files were made from
    # Alerts rulesgen adds (absence guards, after the spec's own in `alerts`), each
    # reported at the spec entry it comes from: the metric declared `always_present`.
    derived: dict[str, Path] = field(default_factory=dict)

    def has_alert(self, name: str) -> bool:
        return name in self._index

    def alert_path(self, name: str) -> Path:
        return self.derived.get(name) or ("alerts", self._index[name])

    @property
    def environments(self) -> tuple[str, ...]:
        return tuple(self.header.environments)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {alert.name: i for i, alert in enumerate(self.alerts)}


@cache
def _vocabulary() -> tuple[str, ...]:
    """Every key the spec knows, to suggest a fix for a typo such as `treshold`."""
    words: set[str] = set()

    def walk(model: type[BaseModel]) -> None:
        for name, info in model.model_fields.items():
            words.add(info.alias or name)
            for arg in _model_args(info.annotation):
                walk(arg)

    walk(SpecHeader)
    for model in registry().values():
        walk(model)
    return tuple(sorted(words))


def _model_args(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _model_args(arg)
    for arg in getattr(annotation, "__metadata__", ()) or ():
        yield from _model_args(arg)


def _message(err: Any, data_at_loc: Any) -> str:
    kind = err["type"]
    loc = err["loc"]
    if kind == "missing":
        return f"missing required key {loc[-1]!r}"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        return f"unknown key {key!r}{did_you_mean(key, _vocabulary(), cutoff=0.75)}"
    if kind == "union_tag_invalid":
        return f"unknown kind {err['input'].get('kind')!r}; expected one of: {', '.join(registry())}"
    if kind == "union_tag_not_found":
        return f"missing required key 'kind' (one of: {', '.join(registry())})"
    msg: str = err["msg"].removeprefix("Value error, ")
    if kind.endswith("_type") or kind in ("literal_error", "enum"):
        msg += f", got {err['input']!r}"
    return msg


def _has(node: Any, part: str | int) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def pydantic_errors(exc: ValidationError, prefix: Path, data: Any, positions: Positions) -> list[SpecError]:
    """Map pydantic's `loc` onto the YAML data so each error points at a line and column.

    `loc` holds parts that are not in the data (the tag of a discriminated union,
    the key a `missing` error names); those are dropped from the position lookup.
    """
    out: list[SpecError] = []
    for err in exc.errors():
        path, node = prefix, data
        for part in err["loc"]:
            if _has(node, part):
                path, node = (*path, part), node[part]
        kind = err["type"]
        if kind == "missing":
            shown = (*path, err["loc"][-1])
            line, col = positions.of(path)
        elif kind == "union_tag_invalid" and isinstance(node, dict) and "kind" in node:
            shown = (*path, "kind")
            line, col = positions.of(shown)
        else:
            shown = path
            # A bad mapping key (`loc` ends in `[key]`) is pointed at, not its value.
            line, col = positions.of(path, key=kind == "extra_forbidden" or err["loc"][-1:] == ("[key]",))
        error = positions.error(shown, _message(err, node))
        out.append(SpecError(error.file, line, col, error.path, error.message))
    # A value that fits none of a union's members yields one error per member; keep the first.
    seen: set[tuple[int, int, str]] = set()
    unique = []
    for error in out:
        if (error.line, error.column, error.path) not in seen:
            seen.add((error.line, error.column, error.path))
            unique.append(error)
    return unique


def parse_spec(text: str, file: str) -> Document:
    """Validate spec text; raises SpecErrors listing every structural and reference error."""
    data, positions = load_yaml(text, file)
    if not isinstance(data, dict):
        raise SpecErrors([positions.error((), "the spec must be a mapping with version, settings, ... alerts")])
    errors: list[SpecError] = []
    header: SpecHeader | None = None
    try:
        header = SpecHeader.model_validate(data)
    except ValidationError as exc:
        errors.extend(pydantic_errors(exc, (), data, positions))
    raw_alerts = data.get("alerts")
    alerts: list[tuple[int, AlertModel]] = []
    if isinstance(raw_alerts, list):
        for i, raw in enumerate(raw_alerts):
            try:
                alerts.append((i, alert_adapter().validate_python(raw)))
            except ValidationError as exc:
                errors.extend(pydantic_errors(exc, ("alerts", i), raw, positions))
    if errors:
        raise SpecErrors(errors)
    assert header is not None
    digest = hashlib.sha256(text.encode()).hexdigest()
    written = tuple(alert for _, alert in alerts)
    guards = derive_guards(header, written)
    derived: dict[str, Path] = {guard.name: ("metrics", guard.metric) for guard in guards}
    return Document(file, header, (*written, *guards), positions, digest, derived)


def load_spec(path: str | FsPath) -> Document:
    """Read and validate a spec file."""
    path = FsPath(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecErrors([SpecError(str(path), 1, 1, "", f"cannot read spec: {exc}")]) from None
    return parse_spec(text, str(path))
