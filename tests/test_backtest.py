"""`rulesgen simulate` and `rulesgen backtest` end to end on a simulated day, the
Alertmanager model, recording-rule inlining, and bad input."""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import SPEC, require, run_cli, running_under
from rulesgen.backtest.evaluate import Episode
from rulesgen.backtest.notify import notifications
from rulesgen.backtest.simulate import simulate
from rulesgen.backtest.source import Source, openmetrics_server
from rulesgen.ir import AlertmanagerIR, InhibitRule, RecordingRule, Route
from rulesgen.promql import Duration
from rulesgen.promql_inline import inline
from rulesgen.spec.validate import load_spec
from rulesgen.verify.engines import VictoriaMetrics

# --- the simulated day, backtested ------------------------------------------------------


def _simulated(factory: pytest.TempPathFactory, days: int) -> Path:
    out = factory.mktemp("sim") / f"{days}d.om.gz"
    done = run_cli("simulate", "--spec", str(SPEC), "--days", str(days), "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


def _backtested(history: Path) -> dict[str, Any]:
    """The history backtested from its file, judged against its incidents."""
    require("promtool")
    require("prometheus")
    args = ["--source", str(history), "--incidents", str(history.with_name("incidents.yaml")), "--format", "json"]
    done = run_cli("backtest", "--spec", str(SPEC), *args)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no progress line on a pipe
    data: dict[str, Any] = json.loads(done.stdout)
    return data


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _simulated(tmp_path_factory, 1)


@pytest.fixture(scope="module")
def report(day: Path) -> dict[str, Any]:
    return _backtested(day)


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every incident and production fault the simulation knows, each more than once."""
    return _simulated(tmp_path_factory, 7)


@pytest.fixture(scope="module")
def week_report(week: Path) -> dict[str, Any]:
    return _backtested(week)


@pytest.fixture(scope="module")
def served(day: Path) -> Iterator[Source]:
    """The simulated day from a running Prometheus, as a live source."""
    with openmetrics_server(day) as source:
        yield source


def test_a_live_prometheus_gives_the_same_report_as_the_file(report: dict[str, Any], served: Source) -> None:
    span = ["--from", str(served.first), "--to", str(served.last)]
    incidents = ["--incidents", str(Path(report["source"]).with_name("incidents.yaml"))]
    done = run_cli("backtest", "--spec", str(SPEC), "--source", served.url, *span, *incidents, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["environments"] == report["environments"]


def test_victoriametrics_gives_the_same_report_as_the_file(report: dict[str, Any], day: Path) -> None:
    """The third source: the same day imported into VictoriaMetrics. Its staleness
    window is pinned to Prometheus's 5m lookback; by default it derives one from the
    sample interval and sees a stopped exporter minutes sooner."""
    require("victoria-metrics")
    lines = []
    with gzip.open(day, "rt") as src:
        for line in src:
            if line.strip() and not line.startswith("#"):
                series, _, ts = line.rstrip().rpartition(" ")
                lines.append(f"{series} {int(ts) * 1000}")
    staleness = ["-search.minStalenessInterval=5m", "-search.maxStalenessInterval=5m", "-retentionPeriod=100y"]
    with VictoriaMetrics(flags=staleness, lifetime=300) as vm:
        for at in range(0, len(lines), 50_000):
            vm.import_lines(lines[at : at + 50_000])
        span = ["--from", report["from"], "--to", report["to"]]
        incidents = ["--incidents", str(day.with_name("incidents.yaml"))]
        done = run_cli("backtest", "--spec", str(SPEC), "--source", vm.url, *span, *incidents, "--format", "json")
    assert done.returncode == 0, done.stderr
    vm_envs, vm_budgets = _budgets_apart(json.loads(done.stdout)["environments"])
    envs, budgets = _budgets_apart(report["environments"])
    assert vm_envs == envs
    # The error budget used is a ratio of counts, and VictoriaMetrics counts a window's
    # events a little differently (no extrapolation like Prometheus's): the same
    # firings, the shares within a percent.
    assert budgets and vm_budgets == pytest.approx(budgets, rel=0.01)


def _budgets_apart(envs: dict[str, Any]) -> tuple[dict[str, Any], list[float]]:
    """The report without its `budget_consumed` figures, and those figures in order."""
    envs, budgets = copy.deepcopy(envs), []
    for data in envs.values():
        for alert in data["alerts"].values():
            for episode in alert["episodes"]:
                if "budget_consumed" in episode:
                    budgets.append(episode.pop("budget_consumed"))
    return envs, budgets


@pytest.mark.parametrize("span", ["day", "week"])
def test_every_alert_catches_the_incidents_meant_for_it(span: str, request: pytest.FixtureRequest) -> None:
    history: Path = request.getfixturevalue(span)
    report: dict[str, Any] = request.getfixturevalue("report" if span == "day" else "week_report")
    incidents = yaml.safe_load(history.with_name("incidents.yaml").read_text())["incidents"]
    assert incidents
    for env, data in report["environments"].items():
        for incident in incidents:
            for alert in incident["alerts"]:
                if alert not in data["alerts"]:
                    continue  # disabled in this environment (churn in staging)
                verdict = data["alerts"][alert]["incidents"]
                assert incident["name"] in verdict["caught"], (env, alert, verdict)


@pytest.mark.parametrize("span", ["report", "week_report"])
def test_no_alert_fires_outside_its_incidents(span: str, request: pytest.FixtureRequest) -> None:
    report: dict[str, Any] = request.getfixturevalue(span)
    false = {
        (env, alert): a["incidents"]["false_firings"]
        for env, data in report["environments"].items()
        for alert, a in data["alerts"].items()
        if a["incidents"]["false_firings"]
    }
    assert not false


def test_notifications_follow_each_environments_routes(report: dict[str, Any]) -> None:
    prod, staging = report["environments"]["prod"], report["environments"]["staging"]
    assert prod["receivers"]["billing-pager"]["notifications"] >= 1
    assert "billing-pager" not in staging["receivers"]  # staging's critical alerts go to chat
    assert staging["receivers"]["billing-chat"]["notifications"] > prod["receivers"]["billing-chat"]["notifications"]
    # a failing mainnet explains its failure ratio: that alert fires but never notifies
    assert prod["alerts"]["BillingTransactionFailureRatioHigh"]["firings"] >= 1
    assert prod["notifications_per_alert"].get("BillingTransactionFailureRatioHigh", 0) == 0
    assert prod["inhibited"] >= 1


def test_sweep_reuses_one_query_for_every_value(served: Source) -> None:
    args = ["--source", served.url, "--from", str(served.first), "--to", str(served.last)]
    args += ["--env", "prod", "--alert", "BillingPendingBacklog", "--format", "json"]
    done = run_cli("backtest", "--spec", str(SPEC), *args, "--sweep", "BillingPendingBacklog.threshold=10..100:30")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["queries"] == 1
    firings = [row["firings"]["prod"] for row in data["sweep"]["rows"]]
    assert [row["value"] for row in data["sweep"]["rows"]] == [10, 40, 70, 100]
    assert firings[0] >= 1 and firings[-1] == 0 and firings == sorted(firings, reverse=True)


def test_simulation_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    doc = load_spec(SPEC)
    paths = [tmp_path / f"{name}.om" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (7, 7, 8), strict=True):
        simulate(doc, 0.05, seed, path)
    a, b, c = (p.read_bytes() for p in paths)
    assert a == b and a != c
    text = a.decode()
    assert text.endswith("# EOF\n")
    targets = {line.split("{")[1].split("}")[0] for line in text.splitlines() if line.startswith("up{")}
    assert len(targets) >= 6  # several targets per job, each with its `up`


# --- bad input: exit 2, one line, nothing left behind ----------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "http://127.0.0.1:9", "--from", "0", "--to", "600"], "unreachable"),
        (["--source", str(SPEC)], "not OpenMetrics"),
        (["--source", "URL", "--from", "2020-01-01", "--to", "2020-01-02"], "no data"),
        (["--source", "DAY", "--set", "Nope.threshold=3"], "unknown alert 'Nope'"),
        (["--source", "DAY", "--set", "BillingPendingBacklog.thresold=3"], "did you mean 'threshold'"),
        (["--source", "nowhere.om"], "no such file"),
    ],
    ids=["unreachable", "not-openmetrics", "no-data", "unknown-alert", "unknown-field", "no-file"],
)
def test_bad_input_exits_2_with_one_line_and_leaves_nothing(
    args: list[str], message: str, day: Path, served: Source, tmp_path: Path
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    args = [{"DAY": str(day), "URL": served.url}.get(a, a) for a in args]
    done = run_cli("backtest", "--spec", str(SPEC), *args, env={"TMPDIR": str(scratch)})
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr
    assert list(scratch.iterdir()) == []
    assert running_under(scratch) == []


# --- Alertmanager, modelled --------------------------------------------------------------


def _am(*inhibit: InhibitRule) -> AlertmanagerIR:
    def leaf(severity: str, receiver: str, wait: int, interval: int, repeat: int) -> Route:
        times = (Duration(wait * 1000), Duration(interval * 1000), Duration(repeat * 1000))
        return Route(receiver, (f'severity="{severity}"',), *times)

    team = Route(
        "null",
        ('team="billing"',),
        routes=(leaf("critical", "pager", 30, 300, 3600), leaf("warning", "chat", 60, 600, 14400)),
    )
    return AlertmanagerIR(Route("null", routes=(team,)), (), inhibit, Duration(300_000), ("alertname", "network"))


def _episode(name: str, severity: str, firing: int, resolved: int | None, network: str = "polygon") -> Episode:
    labels = (("alertname", name), ("network", network), ("severity", severity), ("team", "billing"))
    return Episode(labels, firing - 60, firing, resolved)


def test_a_long_firing_repeats_after_repeat_interval_and_resolves_once() -> None:
    sent = notifications(_am(), [_episode("A", "critical", 0, 9000)], 20000).sent
    firing = [n.at for n in sent if not n.resolved]
    # group_wait 30s; then every 5m, and again only once more than 1h has passed
    assert firing == [30, 30 + 13 * 300, 30 + 26 * 300]
    assert [n.at for n in sent if n.resolved] == [30 + 30 * 300]


def test_an_alert_that_fires_again_between_flushes_is_the_same_alert() -> None:
    episodes = [_episode("A", "critical", 0, 100), _episode("A", "critical", 200, 2000)]
    sent = notifications(_am(), episodes, 5000).sent
    assert [(n.at, n.resolved) for n in sent] == [(30, False), (2130, True)]


def test_grouping_and_inhibition() -> None:
    mute = InhibitRule("critical mutes warning", ('severity="critical"',), ('severity="warning"',), ("network",))
    episodes = [
        _episode("A", "critical", 0, 600),
        _episode("A", "critical", 60, 600, "arbitrum"),  # another group: network is grouped by
        _episode("B", "warning", 120, 500),  # muted all along by A on polygon
        _episode("B", "warning", 120, 500, "bsc"),  # nothing critical on bsc
    ]
    result = notifications(_am(mute), episodes, 5000)
    assert [e.labels for e in result.inhibited] == [episodes[2].labels]
    firing = [(n.receiver, n.at) for n in result.sent if not n.resolved]
    assert firing == [("pager", 30), ("pager", 90), ("chat", 180)]


# --- recording rules, inlined -------------------------------------------------------------


def test_inlining_pushes_matchers_into_selectors_whose_labels_reach_the_result() -> None:
    records = {
        "r:inc": RecordingRule(
            "r:inc", "sum by (network, status) ((x - x offset 5m >= 0) or (x and on() group(x offset 5m)))"
        ),
        "r:ratio": RecordingRule("r:ratio", 'sum by (network) (r:inc{status="failed"}) / sum by (network) (r:inc)'),
    }
    out = inline('r:ratio{network="polygon"} > 0.1', records)
    # the gate `group(x offset 5m)` still asks whether any series existed 5m ago
    assert "group(x offset 5m)" in out
    assert out.count('x{network="polygon",status="failed"}') == 3
    assert out.count('x{network="polygon"}') == 3
    import promql_parser

    promql_parser.parse(out)


# --- the HTML report --------------------------------------------------------------------


def test_html_report_is_one_file_with_a_plot_per_alert() -> None:
    import base64
    import re

    from rulesgen.backtest.evaluate import AlertRun
    from rulesgen.backtest.htmlreport import render_html
    from rulesgen.backtest.notify import Notifications
    from rulesgen.backtest.run import EnvResult, Result
    from rulesgen.backtest.source import Matrix
    from rulesgen.ir import Compare, Quantity

    quantity = Quantity("sum by (network) (pending)", "count", "pending transactions", "gauge")
    series: Matrix = {(("network", "polygon"),): {t: float(t // 60 % 40) for t in range(0, 7200, 60)}}
    run = AlertRun("prod", "Backlog", 60, 0, 7140)
    run.compared = [(Compare(quantity, ">", 20.0), series)]
    run.episodes = [Episode((("alertname", "Backlog"), ("network", "polygon")), 1260, 1800, 2400)]
    result = Result("x.om", 0, 7140, [EnvResult("prod", [run], Notifications())])
    page = render_html(result)
    images = re.findall(r"src='data:image/png;base64,([^']+)'", page)
    assert len(images) == 1 and base64.b64decode(images[0]).startswith(b"\x89PNG")
    assert "<h3>Backlog</h3>" in page and "http" not in page.replace("http-equiv", "")
