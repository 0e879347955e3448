"""Alert kinds. Each module in this package defines one `AlertModel` subclass that
owns its spec fields, PromQL, recording rules and test scenarios; adding a kind
is adding a module here."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from rulesgen.kinds.base import AlertModel


@cache
def registry() -> dict[str, type[AlertModel]]:
    """Kind name -> model, discovered from this package's modules in name order."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")
    kinds: dict[str, type[AlertModel]] = {}
    for cls in _subclasses(AlertModel):
        literal = cls.model_fields["kind"].annotation
        names = getattr(literal, "__args__", ())
        for name in names:
            kinds[name] = cls
    return dict(sorted(kinds.items()))


def _subclasses(cls: type[AlertModel]) -> list[type[AlertModel]]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_subclasses(sub))
    return out


@cache
def alert_adapter() -> TypeAdapter[Any]:
    """Validates one alert, choosing its model by the `kind` key."""
    models = tuple(registry().values())
    union: Any = Annotated[Union[models], Field(discriminator="kind")]  # noqa: UP007
    return TypeAdapter(union)
