"""Findings of `rulesgen verify`: lint-style diagnostics with a stable ID, a severity,
a message and the place they are about (a line of `output/`, and of the spec when
expectations.json says), rendered as text, JSON, GitHub annotations or Markdown."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

ERROR, WARNING, INFO = "error", "warning", "info"

# The stable IDs: a code is never reused for another meaning.
CODES: dict[str, tuple[str, str]] = {
    "RG300": (INFO, "a check could not run against this server (an endpoint it lacks)"),
    "RG301": (ERROR, "a metric the rules read was never present in the look-back"),
    "RG302": (ERROR, "a metric the rules read disappeared"),
    "RG303": (ERROR, "a label value the rules select is not on the server"),
    "RG304": (WARNING, "a label value on the server is outside every value the rules select and the known others"),
    "RG305": (WARNING, "a metric's type on the server differs from the declared (or used) type"),
    "RG306": (WARNING, "a window holds fewer than 4 scrapes"),
    "RG307": (ERROR, "a window or offset reaches beyond the server's retention"),
    "RG310": (ERROR, "a generated rule group or rule is not loaded on the server"),
    "RG311": (WARNING, "the server has a rule group or rule that output/ does not"),
    "RG312": (ERROR, "a loaded rule differs from output/ (expression, for, labels, annotations, interval)"),
    "RG313": (ERROR, "Alertmanager runs a configuration that differs from output/ (receivers, routes, inhibitions)"),
    "RG320": (INFO, "an alert is firing or pending now"),
    "RG321": (INFO, "an alert is close to its threshold"),
}


@dataclass(frozen=True, order=True)
class Finding:
    place: str  # file:line of output/, or the server's URL
    code: str
    message: str
    subject: str = ""  # the metric, alert or group it is about
    spec: str = ""  # file:line:column of the spec, when known

    def order(self) -> tuple[str, int, str, str, str]:
        """By file, then line as a number (`:9` before `:11`), then ID."""
        file, line = _split_place(self.place)
        return (file, int(line), self.code, self.subject, self.message)

    @property
    def severity(self) -> str:
        return CODES[self.code][0]

    @property
    def counts(self) -> bool:
        """Errors and warnings fail `verify` (exit 1); information does not."""
        return self.severity != INFO

    def line(self) -> str:
        spec = f" (spec: {self.spec})" if self.spec else ""
        return f"{self.place}: {self.severity} {self.code} {self.message}{spec}"

    def as_dict(self) -> dict[str, str]:
        return {
            "place": self.place,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "subject": self.subject,
            "spec": self.spec,
        }


def _split_place(place: str) -> tuple[str, str]:
    file, _, line = place.rpartition(":")
    return (file, line) if line.isdigit() else (place, "1")


def _github(f: Finding) -> str:
    level = "notice" if f.severity == INFO else f.severity
    file, line = _split_place(f.spec.rsplit(":", 1)[0] if f.spec else f.place)
    message = f"{f.message} ({f.place})".replace("%", "%25").replace("\n", "%0A")
    return f"::{level} file={file},line={line},title={f.code}::{message}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary(findings: Sequence[Finding]) -> str:
    by = {s: sum(f.severity == s for f in findings) for s in (ERROR, WARNING, INFO)}
    return f"{by[ERROR]} error(s), {by[WARNING]} warning(s), {by[INFO]} note(s)"


def render(findings: Sequence[Finding], fmt: str, notes: Sequence[str] = ()) -> str:
    findings = sorted(findings, key=Finding.order)
    if fmt == "json":
        payload = {
            "ok": not any(f.counts for f in findings),
            "findings": [f.as_dict() for f in findings],
            "notes": list(notes),
        }
        return json.dumps(payload, indent=2, sort_keys=True)
    if fmt == "github":
        return "\n".join(_github(f) for f in findings)
    if fmt == "markdown":
        rows = ["| severity | ID | where | finding |", "|---|---|---|---|"]
        rows += [f"| {f.severity} | {f.code} | `{f.place}` | {_cell(f.message)} |" for f in findings]
        return "\n".join([*notes, "", *(rows if findings else ["No findings."]), "", summary(findings)])
    return "\n".join([*(f.line() for f in findings), *notes, summary(findings)])
