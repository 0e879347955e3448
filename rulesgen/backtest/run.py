"""`rulesgen backtest`: every alert of the chosen environments on one source's history,
what-ifs (`--set`, `--sweep`) applied by recompiling the spec with an override, so a
moved threshold, `for` or severity means exactly what it would in the rules. A
quantity is queried once per step and range whatever the what-ifs: the sweep's values
only change the comparisons made in Python."""

from __future__ import annotations

import copy
import dataclasses
import re
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import yaml

from rulesgen.backtest.common import BacktestError, iso, parse_time
from rulesgen.backtest.evaluate import AlertRun, group_interval, leaf_expr, run_alert
from rulesgen.backtest.incidents import Verdict
from rulesgen.backtest.notify import Notifications, notifications
from rulesgen.backtest.source import QUERY_WORKERS, Matrix, SourceError, open_source, query_range
from rulesgen.errors import SpecErrors, did_you_mean
from rulesgen.ir import Alert, Compare, EnvIR, ProgramIR, compares, leaves
from rulesgen.pipeline import compile_document
from rulesgen.promql_inline import records_of
from rulesgen.spec.validate import Document
from rulesgen.verify.client import Auth, Client


@dataclass(frozen=True)
class WhatIf:
    alert: str
    field: str
    value: Any

    def __str__(self) -> str:
        return f"{self.alert}.{self.field}={self.value}"


# A field, or a part of one: `threshold`, `tiers[0].factor`, `numerator.matchers.status`.
FIELD_PATH = re.compile(r"[A-Za-z_]\w*(?:\[\d+\]|\.[A-Za-z_]\w*)*")


def parse_set(text: str) -> WhatIf:
    """`ALERT.FIELD=VALUE`; the value is read as YAML, as the spec would be."""
    target, sep, value = text.partition("=")
    alert, dot, name = target.partition(".")
    if not (sep and dot and alert and FIELD_PATH.fullmatch(name)):
        raise BacktestError(f"--set {text!r}: expected ALERT.FIELD=VALUE (FIELD like threshold or tiers[0].factor)")
    return WhatIf(alert, name, yaml.safe_load(value))


def field_path(name: str) -> list[str | int]:
    """`tiers[0].factor` -> ["tiers", 0, "factor"]."""
    return [int(index) if index else key for key, index in re.findall(r"(\w+)|\[(\d+)\]", name)]


def parse_sweep(text: str) -> list[WhatIf]:
    """`ALERT.FIELD=LO..HI:STEP` -> one what-if per value."""
    usage = BacktestError(f"--sweep {text!r}: expected ALERT.FIELD=LO..HI:STEP")
    target, _, spec = text.partition("=")
    lo_hi, _, step_text = spec.partition(":")
    lo_text, _, hi_text = lo_hi.partition("..")
    try:
        base = parse_set(f"{target}=0")
        lo, hi, step = float(lo_text), float(hi_text), float(step_text or 1)
    except (BacktestError, ValueError):
        raise usage from None
    if step <= 0 or hi < lo:
        raise usage
    count = round((hi - lo) / step) + 1
    values = [round(lo + k * step, 10) for k in range(count)]
    return [WhatIf(base.alert, base.field, int(v) if v == int(v) else v) for v in values]


def with_overrides(doc: Document, whatifs: Sequence[WhatIf]) -> Document:
    """The spec with each what-if written as an override in every environment; a part of
    a field (`tiers[0].factor`) overrides the whole field, as the environment had it,
    with that part moved."""
    envs = {}
    for name, env in doc.header.environments.items():
        overrides = {k: dict(v) for k, v in env.overrides.items()}
        for w in whatifs:
            top, *rest = field_path(w.field)
            mine = overrides.setdefault(w.alert, {})
            if not rest:
                mine[str(top)] = w.value
                continue
            whole = copy.deepcopy(mine[str(top)] if str(top) in mine else _as_written(doc, w.alert, str(top), w))
            _put(whole, rest, w)
            mine[str(top)] = whole
        envs[name] = env.model_copy(update={"overrides": overrides})
    return dataclasses.replace(doc, header=doc.header.model_copy(update={"environments": envs}))


def _as_written(doc: Document, alert: str, top: str, w: WhatIf) -> Any:
    """The alert's field as the spec would spell it (aliases, durations as text)."""
    model = next(a for a in doc.alerts if a.name == alert)  # compile_whatif checked it is there
    data = model.model_dump(mode="json", by_alias=True)
    if top not in data:
        raise BacktestError(f"--set {w}: {alert} has no field {top!r}")
    return data[top]


def _put(whole: Any, path: Sequence[str | int], w: WhatIf) -> None:
    """Set `path` inside `whole` to the what-if's value; a part that is not there is an error."""
    at = whole
    for i, step in enumerate(path):
        present = isinstance(at, list) and isinstance(step, int) and step < len(at)
        present = present or (isinstance(at, dict) and isinstance(step, str) and (step in at or i == len(path) - 1))
        if not present:
            raise BacktestError(f"--set {w}: {w.alert} has no {w.field}")
        if i == len(path) - 1:
            at[step] = w.value
        else:
            at = at[step]


def compile_whatif(doc: Document, whatifs: Sequence[WhatIf]) -> ProgramIR:
    names = {a.name for a in doc.alerts}
    for w in whatifs:
        if w.alert not in names:
            raise BacktestError(f"{w}: unknown alert {w.alert!r}{did_you_mean(w.alert, sorted(names))}")
    try:
        return compile_document(with_overrides(doc, whatifs), tests=False).program
    except SpecErrors as exc:
        first = exc.errors[0]
        raise BacktestError(f"{', '.join(map(str, whatifs))}: {first.message}") from None


@dataclass
class EnvResult:
    env: str
    runs: list[AlertRun]
    notifications: Notifications


@dataclass
class SweepRow:
    value: Any
    firings: dict[str, int]  # env -> firings of the swept alert
    pages: dict[str, int]  # env -> notifications announcing it


@dataclass
class Result:
    source: str
    start: int
    end: int
    envs: list[EnvResult]
    whatifs: list[WhatIf] = field(default_factory=list)
    sweep: list[SweepRow] = field(default_factory=list)
    sweep_of: str = ""
    queries: int = 0
    verdicts: dict[str, dict[str, Verdict]] = field(default_factory=dict)  # env -> alert -> verdict
    # env -> alert -> its comparisons in the spec as written, when what-ifs moved them
    baseline: dict[str, dict[str, tuple[Compare, ...]]] = field(default_factory=dict)


Key = tuple[str, int]  # (expression, step)


class Queries:
    """Each (expression, step) queried once over the range, whatever asks for it."""

    def __init__(self, client: Client, start: int, end: int, progress: Callable[[str], None]) -> None:
        self.client, self.start, self.end, self.progress = client, start, end, progress
        self.cache: dict[Key, Matrix] = {}

    def _query(self, key: Key) -> Matrix:
        return query_range(self.client, key[0], self.start, self.end, key[1])

    def fetch(self, keys: Collection[Key]) -> None:
        """Every key not yet cached, a few at a time: the server evaluates one query
        while this process decodes another's answer."""
        todo = sorted(set(keys) - self.cache.keys())
        with ThreadPoolExecutor(QUERY_WORKERS) as pool:
            futures = {pool.submit(self._query, key): key for key in todo}
            try:
                for done, future in enumerate(as_completed(futures), 1):
                    self.cache[futures[future]] = future.result()
                    self.progress(f"query {done} of {len(todo)}")
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise

    def at(self, step: int) -> Callable[[str], Matrix]:
        def query(expr: str) -> Matrix:
            key = (expr, step)
            if key not in self.cache:
                self.cache[key] = self._query(key)
            return self.cache[key]

        return query


Selection = Iterable[tuple[EnvIR, Sequence[str]]]  # environments, each with its alerts (none: all)


def planned(selection: Selection) -> set[Key]:
    """The (expression, step) pairs the selected alerts read."""
    out = set()
    for env, only in selection:
        records = records_of(env)
        for alert in _alerts(env, only):
            step = group_interval(env, alert).ms // 1000
            out |= {(leaf_expr(leaf, records), step) for rule in alert.rules for leaf in leaves(rule.condition)}
    return out


def require_data(queries: Queries, source: str) -> None:
    """A source with no sample in the range would report every alert as silent."""
    if not any(m for m in queries.cache.values()):
        raise BacktestError(f"{source}: no data between {iso(queries.start)} and {iso(queries.end)}")


@contextmanager
def history(
    source: str, start: str | None, end: str | None, auth: Auth | None = None
) -> Iterator[tuple[Client, int, int]]:
    """A client of `source` and the range to backtest (`--from`/`--to`, else the file's
    first and last sample), served for the duration of the block."""
    if not source.startswith(("http://", "https://")):
        tty_progress(f"building a TSDB from {source}")
    with open_source(source, auth) as served:
        lo = parse_time(start) if start else served.first
        hi = parse_time(end) if end else served.last
        if lo is None or hi is None:
            raise BacktestError("--from and --to are needed for an HTTP source")
        if hi <= lo:
            raise BacktestError(f"--to ({hi}) is not after --from ({lo})")
        yield served.client(), lo, hi


def _alerts(env: EnvIR, only: Sequence[str]) -> list[Alert]:
    return [a for a in env.alerts if not only or a.name in only]


def run_env(env: EnvIR, queries: Queries, only: Sequence[str]) -> EnvResult:
    runs = []
    for alert in _alerts(env, only):
        step = group_interval(env, alert).ms // 1000
        runs.append(run_alert(env, alert, queries.at(step), queries.start, queries.end))
    return EnvResult(env.env, runs, _notify(env, runs, queries.end))


def _notify(env: EnvIR, runs: Sequence[AlertRun], end: int) -> Notifications:
    if env.alertmanager is None:
        return Notifications()
    episodes = [e for r in runs for e in r.episodes]
    return notifications(env.alertmanager, episodes, end, env.labels)


def check_names(program: ProgramIR, envs: Sequence[str], alerts: Sequence[str]) -> None:
    known_envs = [e.env for e in program.envs]
    for env in envs:
        if env not in known_envs:
            raise BacktestError(f"unknown environment {env!r}; known: {', '.join(known_envs)}")
    names = sorted({a.name for e in program.envs for a in e.alerts})
    for alert in alerts:
        if alert not in names:
            raise BacktestError(f"unknown alert {alert!r}{did_you_mean(alert, names)}")


@dataclass(frozen=True)
class Plan:
    """What to backtest, checked before any source is opened."""

    program: ProgramIR
    envs: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()
    sets: tuple[WhatIf, ...] = ()
    sweep: tuple[WhatIf, ...] = ()
    sweeps: tuple[ProgramIR, ...] = ()
    base: ProgramIR | None = None  # the spec as written, when what-ifs move it


def plan(
    doc: Document,
    envs: Sequence[str] = (),
    alerts: Sequence[str] = (),
    sets: Sequence[WhatIf] = (),
    sweep: Sequence[WhatIf] = (),
) -> Plan:
    """The spec compiled with the what-ifs; BacktestError for an unknown name or field."""
    program = compile_whatif(doc, sets)
    check_names(program, envs, alerts)
    sweeps = tuple(compile_whatif(doc, [*sets, w]) for w in sweep)
    base = compile_whatif(doc, []) if sets else None
    return Plan(program, tuple(envs), tuple(alerts), tuple(sets), tuple(sweep), sweeps, base)


def backtest(
    p: Plan, client: Client, source: str, start: int, end: int, progress: Callable[[str], None] = lambda _: None
) -> Result:
    """Every planned alert on the source's history between `start` and `end`."""
    envs, alerts, sets, sweep, sweeps = p.envs, p.alerts, p.sets, p.sweep, p.sweeps
    chosen = [e for e in p.program.envs if not envs or e.env in envs]
    queries = Queries(client, start, end, progress)
    try:
        queries.fetch(planned((env, alerts) for env in chosen))
        results = [run_env(env, queries, alerts) for env in chosen]
        require_data(queries, source)
        result = Result(source, start, end, results, list(sets))
        if sweep:
            result.sweep_of = f"{sweep[0].alert}.{sweep[0].field}"
            result.sweep = [_sweep_row(p, w, queries, envs, results) for p, w in zip(sweeps, sweep, strict=True)]
    except SourceError as exc:
        raise BacktestError(str(exc)) from None
    result.queries = len(queries.cache)
    if p.base is not None:
        result.baseline = {
            env.env: {a.name: tuple(c for r in a.rules for c in compares(r.condition)) for a in env.alerts}
            for env in p.base.envs
        }
    return result


def _sweep_row(program: ProgramIR, w: WhatIf, queries: Queries, envs: Sequence[str], base: list[EnvResult]) -> SweepRow:
    row = SweepRow(w.value, {}, {})
    for env, before in zip([e for e in program.envs if not envs or e.env in envs], base, strict=True):
        runs = [r for r in before.runs if r.alert != w.alert]
        alert = next((a for a in env.alerts if a.name == w.alert), None)
        if alert is not None:
            step = group_interval(env, alert).ms // 1000
            runs.append(run_alert(env, alert, queries.at(step), queries.start, queries.end))
        sent = _notify(env, runs, queries.end)
        row.firings[env.env] = next((r.firings for r in runs if r.alert == w.alert), 0)
        row.pages[env.env] = sent.per_alert()[w.alert]
    return row


def tty_progress(message: str) -> None:
    """One line on a terminal, rewritten in place; an empty message clears it."""
    if sys.stderr.isatty():
        line = f"rulesgen backtest: {message}" if message else ""
        print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)
