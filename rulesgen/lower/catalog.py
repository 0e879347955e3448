"""The spec's metric catalog and label sets as IR, with where each was written: what a
live check compares a server's series and metadata with."""

from __future__ import annotations

from rulesgen.ir import LabelSetDecl, MetricDecl, Origin
from rulesgen.spec.validate import Document


def _origin(doc: Document, *path: str) -> Origin:
    line, column = doc.positions.of(path, key=True)
    return Origin(doc.file, line, column)


def metrics(doc: Document) -> tuple[MetricDecl, ...]:
    return tuple(
        MetricDecl(name, str(spec.type), tuple(spec.labels), _origin(doc, "metrics", name))
        for name, spec in sorted(doc.header.metrics.items())
    )


def label_sets(doc: Document) -> tuple[LabelSetDecl, ...]:
    return tuple(
        LabelSetDecl(name, s.label, tuple(s.values), tuple(s.others), _origin(doc, "label_sets", name))
        for name, s in sorted(doc.header.label_sets.items())
    )
