"""Routing judged by amtool: `amtool check-config` on each environment's Alertmanager
configuration, and `amtool config routes test` for every alert rule against the
receiver it must reach.

Where an alert must land is the caller's to say (`RouteCheck`, derived from the spec on
the CLI side): this module reads only `output/`. amtool tests one label set per call,
and an alert's receiver depends only on the labels the configuration routes on
(`routed_labels`), so alert rules with the same route input and the same expected
receiver share one call: with 500 alerts about 40 calls instead of 1,500. Its verdict
and words are copied to every alert rule that shared it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rulesgen import children
from rulesgen.progress import SILENT, Progress, label
from rulesgen.verify.deployed import load_yaml
from rulesgen.verify.tools import tool

# One Alertmanager matcher (`team="billing"`, `severity=~"crit.*"`); anything else,
# such as several comma-separated matchers in one string, is not parsed here.
_MATCHER = re.compile(r'\s*\{?\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*(?:"(?:[^"\\]|\\.)*"|[^",{}]*)\s*\}?\s*')
_ROUTE_MATCHER_KEYS = ("matchers", "match", "match_re")
_INHIBIT_MATCHER_KEYS = (
    "source_matchers",
    "target_matchers",
    "source_match",
    "target_match",
    "source_match_re",
    "target_match_re",
)
# Concurrent amtool calls: each is a short process, mostly start-up.
AMTOOL_WORKERS = 4
RouteInput = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class RouteCheck:
    """One alert rule of an environment, and the receiver it must reach."""

    env: str
    alert: str
    labels: Mapping[str, str]  # the rule's labels, `alertname` included
    expected: str


@dataclass
class RouteResult:
    """amtool's verdict on where one alert rule's labels are routed."""

    env: str
    alert: str
    labels: dict[str, str]
    expected: str
    ok: bool
    output: str = ""
    actual: list[str] = field(default_factory=list)
    # The labels routing depends on (None: all of them), and how many alert rules shared
    # the one amtool call that judged this one.
    route_input: dict[str, str] | None = None
    shared: int = 1


def alertmanager_config(output: Path, env: str) -> Path:
    return output / env / "alertmanager" / "alertmanager.yml"


def _receivers(stdout: str) -> list[str]:
    """The receivers `amtool config routes test` resolved: its first plain output line."""
    for line in stdout.splitlines():
        if line.strip() and not line.lower().startswith("warning"):
            return [r.strip() for r in line.split(",") if r.strip()]
    return []


def _matcher_labels(value: Any) -> set[str] | None:
    """Label names of a `matchers` list (strings) or a `match`/`match_re` mapping; None
    when a matcher is not one plain `name op value`, so the caller cannot dedup safely."""
    if isinstance(value, Mapping):
        return {str(k) for k in value}
    names: set[str] = set()
    for item in value or ():
        found = _MATCHER.fullmatch(str(item))
        if found is None:
            return None
        names.add(found.group(1))
    return names


def _block_labels(block: Any, keys: Iterable[str]) -> set[str] | None:
    """Label names the matchers under `keys` of one route or inhibit rule name; None
    when the block is not a mapping or holds a matcher `_matcher_labels` cannot read."""
    if not isinstance(block, Mapping):
        return None
    names: set[str] = set()
    for key in keys:
        if key in block:
            found = _matcher_labels(block[key])
            if found is None:
                return None
            names |= found
    return names


def routed_labels(config: Mapping[str, Any]) -> frozenset[str] | None:
    """The labels an Alertmanager configuration's route tree and inhibitions match on.

    `amtool config routes test` walks the route tree, which reads an alert's labels only
    through the routes' matchers: two label sets agreeing on these labels (present with
    the same value, or both absent) reach the same receivers. Inhibition labels are
    included too, so the alerts grouped under one amtool call are also alike for what
    mutes them. None when the configuration holds a matcher this function does not
    parse: then every label counts and nothing is shared."""
    names: set[str] = set()
    pending: list[Any] = [config.get("route") or {}]
    while pending:
        route = pending.pop()
        found = _block_labels(route, _ROUTE_MATCHER_KEYS)
        if found is None:
            return None
        names |= found
        pending.extend(route.get("routes") or ())
    for rule in config.get("inhibit_rules") or ():
        found = _block_labels(rule, _INHIBIT_MATCHER_KEYS)
        if found is None:
            return None
        names |= found | {str(label) for label in rule.get("equal") or ()}
    return frozenset(names)


def route_input(labels: Mapping[str, str], routed: frozenset[str] | None) -> RouteInput:
    """The part of `labels` routing depends on; an absent label is part of it too."""
    if routed is None:
        return tuple(sorted(labels.items()))
    return tuple((name, labels.get(name)) for name in sorted(routed))


def tool_failure(what: str, proc: children.Completed) -> str:
    """What a tool run that gave no verdict did, in one message."""
    if proc.timed_out:
        return f"{what} did not finish within {proc.timeout:g}s (--timeout)"
    return f"{what} exited {proc.returncode} without its success line; it printed: {proc.output or '(nothing)'}"


def _routes_test(amtool: str, config: str, expected: str, shared: list[RouteResult], timeout: float) -> None:
    """One `amtool config routes test`, its verdict copied to every rule in `shared`."""
    # The first alert rule's whole label set: amtool sees a real alert's labels.
    labels = shared[0].labels
    args = [amtool, "config", "routes", "test", f"--config.file={config}", f"--verify.receivers={expected}"]
    args += [f"{k}={json.dumps(v)}" for k, v in sorted(labels.items())]
    proc = children.run(args, timeout)
    actual = _receivers(proc.stdout)
    # Exit 0 alone is no verdict: amtool must have named the receiver it resolved.
    ok = proc.returncode == 0 and sorted(actual) == sorted(expected.split(","))
    output = proc.output
    if not ok and (proc.timed_out or proc.returncode == 0 or not output):
        output = tool_failure("amtool config routes test", proc)
    for result in shared:
        result.ok, result.output, result.actual, result.shared = ok, output, actual, len(shared)


def verify_routing(
    envs: Sequence[str],
    checks: Sequence[RouteCheck],
    output: Path,
    timeout: float = 600,
    progress: Progress = SILENT,
) -> tuple[list[RouteResult], list[str]]:
    """`amtool check-config` on the configuration of each of `envs`, and one `amtool
    config routes test` per distinct route input of `checks`.

    Returns a result per check of those environments, in order (none for an environment
    whose configuration amtool rejects), and the rejected configurations."""
    amtool = tool("amtool")
    progress.start(0, "routing: amtool check-config")
    config_errors: list[str] = []
    routed: dict[str, frozenset[str] | None] = {}
    for env in envs:
        config = alertmanager_config(output, env)
        checked = children.run([amtool, "check-config", str(config)], timeout)
        if checked.returncode != 0 or not children.said_success(checked.stdout):
            config_errors.append(f"{config}: {tool_failure('amtool check-config', checked)}")
            continue
        loaded = load_yaml(config.read_text())
        routed[env] = routed_labels(loaded) if isinstance(loaded, Mapping) else None
    results: list[RouteResult] = []
    calls: dict[tuple[str, RouteInput, str], list[RouteResult]] = {}
    for check in checks:
        if check.env not in routed:
            continue
        key = route_input(check.labels, routed[check.env])
        result = RouteResult(check.env, check.alert, dict(check.labels), check.expected, True)
        result.route_input = {k: v for k, v in key if v is not None} if routed[check.env] is not None else None
        results.append(result)
        calls.setdefault((str(alertmanager_config(output, check.env)), key, check.expected), []).append(result)

    def run(call: tuple[tuple[str, RouteInput, str], list[RouteResult]]) -> None:
        (config, _, expected), shared = call
        _routes_test(amtool, config, expected, shared, timeout)
        progress.advance(label(f"{r.env}/{r.alert}" for r in shared))

    progress.start(len(calls), "amtool routes")
    with ThreadPoolExecutor(max_workers=AMTOOL_WORKERS) as pool:
        list(pool.map(run, calls.items()))
    return results, config_errors
