"""`rulesgen diff --backtest`: a threshold change backtested on both sides of a
three-hour OpenMetrics file served by the real embedded Prometheus; the counts are
checked against `rulesgen backtest` run on each side, and against the numbers the
file was written to produce."""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import SPEC, require, run_cli, running_under
from rulesgen.backtest.change import PageChange, related, sentence
from rulesgen.backtest.source import Source, openmetrics_server
from rulesgen.pipeline import compile_document
from rulesgen.spec.validate import load_spec

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
HOURS = 3
SCRAPE = 30

SPEC_TEXT = """version: 1
settings:
  runbook_base_url: "https://runbooks.example.com"
  grafana_base_url: "https://grafana.example.com"
environments:
  prod: {{}}
  staging:
    overrides:
      Backlog: {{threshold: 10}}
teams:
  billing:
    receivers:
      pager:
        pagerduty: {{routing_key_file: "/etc/alertmanager/pd-key"}}
      chat:
        slack: {{api_url_file: "/etc/alertmanager/slack-url", channel: "#billing"}}
severities:
  critical: {{route_to: "pager", group_wait: "30s", group_interval: "5m", repeat_interval: "1h"}}
  warning: {{route_to: "chat"}}
metrics:
  pending:
    type: "gauge"
    labels: ["network"]
  queue:
    type: "gauge"
    labels: ["network"]
alerts:
  - name: "Backlog"
    kind: "gauge_threshold"
    metric: "pending"
    by: ["network"]
    direction: "above"
    threshold: {threshold}
    for: "1m"
    severity: "critical"
    team: "billing"
    summary: "More than [[ threshold ]] pending"
  - name: "Queue"
    kind: "gauge_threshold"
    metric: "queue"
    by: ["network"]
    direction: "above"
    threshold: 100
    for: "1m"
    severity: "critical"
    team: "billing"
    summary: "Queue above [[ threshold ]]"
"""


def pending(minute: float) -> float:
    """Three backlogs: at 20 (30m-45m), at 20 then 40 (90m-95m-110m), at 20 (150m-165m).
    A threshold of 10 pages on all three; 30 only on the second, five minutes later."""
    if 30 <= minute < 45 or 90 <= minute < 95 or 150 <= minute < 165:
        return 20
    return 40 if 95 <= minute < 110 else 5


def queue(minute: float) -> float:
    return 200 if 60 <= minute < 75 else 50


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("diffbt")
    times = range(T0, T0 + HOURS * 3600 + 1, SCRAPE)
    lines = ["# TYPE pending gauge"]
    lines += [f'pending{{network="polygon"}} {pending((t - T0) / 60):g} {t}' for t in times]
    lines += ["# TYPE queue gauge"]
    lines += [f'queue{{network="polygon"}} {queue((t - T0) / 60):g} {t}' for t in times]
    paths = {
        "om": root / "history.om",
        "base": root / "base.yaml",
        "head": root / "head.yaml",
        "incidents": root / "incidents.yaml",
    }
    paths["om"].write_text("\n".join([*lines, "# EOF", ""]))
    paths["base"].write_text(SPEC_TEXT.format(threshold=10))
    paths["head"].write_text(SPEC_TEXT.format(threshold=30))
    incidents = [(name, T0 + a * 60, T0 + b * 60) for name, a, b in (("a", 30, 45), ("b", 90, 110), ("c", 150, 165))]
    paths["incidents"].write_text(
        json.dumps(
            {
                "incidents": [
                    {"name": n, "start": a, "end": b, "labels": {"network": "polygon"}, "alerts": ["Backlog"]}
                    for n, a, b in incidents
                ]
            }
        )
    )
    return paths


@pytest.fixture(scope="module")
def served(files: dict[str, Path]) -> Iterator[Source]:
    require("promtool")
    require("prometheus")
    with openmetrics_server(files["om"]) as source:
        yield source


def diff(files: dict[str, Path], *args: str, env: dict[str, str] | None = None) -> Any:
    spec = ["--base-spec", str(files["base"]), "--spec", str(files["head"])]
    return run_cli("diff", *spec, *args, env=env)


def url_args(served: Source) -> list[str]:
    return ["--backtest", served.url, "--from", str(served.first), "--to", str(served.last)]


def backtest_pages(spec: Path, served: Source, alert: str = "Backlog") -> int:
    """The alert's pages as `rulesgen backtest` counts them on its own."""
    args = ["--source", served.url, "--from", str(served.first), "--to", str(served.last), "--env", "prod"]
    done = run_cli("backtest", "--spec", str(spec), *args, "--format", "json")
    assert done.returncode == 0, done.stderr
    prod = json.loads(done.stdout)["environments"]["prod"]
    pages: int = prod["notifications_per_alert"].get(alert, 0)
    assert prod["receivers"]["billing-pager"]["notifications"] >= pages  # both alerts route to the pager only
    return pages


def test_a_raised_threshold_pages_less_on_the_file(files: dict[str, Path], served: Source) -> None:
    """The issue's check: `diff --backtest FILE` on the embedded Prometheus."""
    done = diff(files, "--backtest", str(files["om"]), "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)["backtest"]
    before, after = backtest_pages(files["base"], served), backtest_pages(files["head"], served)
    assert (before, after) == (3, 1)  # what the file was written to do
    [backlog] = data["alerts"]  # Queue did not change; staging's Backlog keeps its override
    assert (backlog["env"], backlog["alert"], backlog["counted"]) == ("prod", "Backlog", "pages")
    assert (backlog["pages_before"], backlog["pages_after"]) == (before, after)
    assert backlog["first_moved_s"] == [300]  # the shared firing: 40 is reached five minutes after 20
    assert data["queries"] == 1  # one quantity, the same on both sides
    assert backlog["line"] == (
        "would have paged 3 times; with this change 1 (2 fewer), first page 5m later on the one shared firing"
    )


def test_markdown_has_one_line_per_changed_alert_with_incidents(files: dict[str, Path], served: Source) -> None:
    done = diff(files, *url_args(served), "--incidents", str(files["incidents"]), "--format", "markdown")
    assert done.returncode == 0, done.stderr
    assert (
        "- **Backlog** would have paged 3 times; with this change 1 (2 fewer), first page 5m later on the one "
        "incident, no page on 2 incidents that had one\n" in done.stdout
    )
    assert "first pages compared on the incidents in" in done.stdout
    lines = [line for line in done.stdout.splitlines() if " would " in line]
    assert len(lines) == 1  # none for Queue, none for staging's unchanged Backlog
    assert "| Backlog | threshold | `> 10` | `> 10` | unchanged |" in done.stdout  # staging is still listed


@pytest.mark.parametrize(("limit", "code"), [(0, 1), (1, 0), (2, 0)])
def test_max_pages_gate(files: dict[str, Path], served: Source, limit: int, code: int) -> None:
    done = diff(files, *url_args(served), "--max-pages", str(limit))
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "  > Backlog would have paged 3 times; with this change 1 (2 fewer)" in done.stdout
    if code:
        assert done.stderr == "rulesgen: --max-pages 0 failed: Backlog would have paged 1 time in prod\n"
        assert "--max-pages 0 failed: Backlog" in done.stdout
    else:
        assert done.stderr == "" and f"--max-pages {limit} passed" in done.stdout


def test_gate_in_json_and_together_with_exit_code(files: dict[str, Path], served: Source) -> None:
    done = diff(files, *url_args(served), "--max-pages", "0", "--format", "json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["backtest"]["over_max_pages"] == [{"env": "prod", "alert": "Backlog", "pages": 1}]


def test_a_removed_alert_pages_no_more(files: dict[str, Path], served: Source, tmp_path: Path) -> None:
    text = files["base"].read_text()
    without = tmp_path / "without-queue.yaml"
    without.write_text(text[: text.index('  - name: "Queue"')])
    done = run_cli(
        "diff", "--base-spec", str(files["base"]), "--spec", str(without), *url_args(served), "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    alerts = json.loads(done.stdout)["backtest"]["alerts"]
    assert [(a["env"], a["alert"], a["status"]) for a in alerts] == [
        ("prod", "Queue", "removed"),
        ("staging", "Queue", "removed"),
    ]
    queue = alerts[0]
    assert (
        (queue["pages_before"], queue["pages_after"]) == (backtest_pages(files["base"], served, "Queue"), 0) == (1, 0)
    )
    assert queue["line"] == "(removed) would have paged once; with this change none"


def test_no_change_backtests_nothing(files: dict[str, Path]) -> None:
    """Nothing changed: the source is not even opened (no Prometheus started for nothing)."""
    spec = ["--base-spec", str(files["base"]), "--spec", str(files["base"])]
    done = run_cli("diff", *spec, "--backtest", "nowhere.om", "--max-pages", "0")
    assert done.returncode == 0, done.stderr
    assert "Backtest: no alert changed, nothing to backtest." in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backtest", "http://127.0.0.1:9", "--from", "0", "--to", "600"], "unreachable"),
        (["--backtest", "http://127.0.0.1:9"], "--from and --to are needed"),
        (["--backtest", str(SPEC)], "not OpenMetrics"),
        (["--backtest", "nowhere.om"], "no such file"),
        (["--backtest", "OM", "--from", "2020-01-01", "--to", "2020-01-02"], "no data"),
        (["--backtest", "OM", "--incidents", str(SPEC)], "not an incidents file"),
        (["--max-pages", "3"], "--max-pages needs --backtest SOURCE"),
    ],
    ids=["unreachable", "no-range", "not-openmetrics", "no-file", "no-data", "bad-incidents", "gate-alone"],
)
def test_bad_input_exits_2_with_one_line_and_leaves_nothing(
    files: dict[str, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    args = [str(files["om"]) if a == "OM" else a for a in args]
    done = diff(files, *args, env={"TMPDIR": str(scratch)})
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr
    assert list(scratch.iterdir()) == []
    assert running_under(scratch) == []


# --- behind credentials: a tenant header and a token, checked by a proxy ----------------

TENANT = ("X-Scope-OrgID", "billing")


class _Guard(BaseHTTPRequestHandler):
    """Forwards a GET to the Prometheus behind it when it carries the tenant header and
    the expected `Authorization`; 401 otherwise (as Mimir and an auth proxy answer)."""

    upstream = ""
    authorization = ""
    refused = 0

    def do_GET(self) -> None:
        if self.headers.get(TENANT[0]) != TENANT[1] or self.headers.get("Authorization") != self.authorization:
            type(self).refused += 1
            self.send_error(401, "no such tenant or token")
            return
        with urllib.request.urlopen(self.upstream + self.path, timeout=30) as answer:
            body = answer.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def guarding(upstream: str, authorization: str) -> Iterator[tuple[str, type[_Guard]]]:
    """`upstream` behind a guard that expects `authorization`, on a free port of 127.0.0.1."""
    guard = type("Guard", (_Guard,), {"upstream": upstream, "authorization": authorization, "refused": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), guard)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", guard
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def guarded(served: Source) -> Iterator[tuple[str, type[_Guard]]]:
    with guarding(served.url, "Bearer s3cret") as guard:
        yield guard


def _credentials(tmp_path: Path, token: str) -> list[str]:
    path = tmp_path / "token"
    path.write_text(token + "\n")
    return ["--header", "=".join(TENANT), "--bearer-token-file", str(path)]


def test_backtest_and_diff_read_a_server_that_asks_for_a_tenant_and_a_token(
    files: dict[str, Path], served: Source, guarded: tuple[str, type[_Guard]], tmp_path: Path
) -> None:
    url, guard = guarded
    span = ["--from", str(served.first), "--to", str(served.last)]
    creds = _credentials(tmp_path, "s3cret")
    behind = run_cli("backtest", "--spec", str(files["head"]), "--source", url, *span, *creds, "--format", "json")
    direct = run_cli("backtest", "--spec", str(files["head"]), "--source", served.url, *span, "--format", "json")
    assert behind.returncode == 0 == direct.returncode, behind.stderr
    assert json.loads(behind.stdout)["environments"] == json.loads(direct.stdout)["environments"]
    done = diff(files, "--backtest", url, *span, *creds, "--format", "json")
    assert done.returncode == 0, done.stderr
    [backlog] = json.loads(done.stdout)["backtest"]["alerts"]
    assert (backlog["pages_before"], backlog["pages_after"]) == (3, 1)
    assert guard.refused == 0


@pytest.mark.parametrize("command", ["backtest", "diff"])
@pytest.mark.parametrize("wrong", ["token", "tenant"])
def test_a_wrong_token_or_tenant_exits_2_with_the_servers_answer(
    files: dict[str, Path], served: Source, guarded: tuple[str, type[_Guard]], tmp_path: Path, command: str, wrong: str
) -> None:
    url, guard = guarded
    span = ["--from", str(served.first), "--to", str(served.last)]
    creds = _credentials(tmp_path, "s3cret" if wrong == "tenant" else "guessed")
    creds = creds[2:] if wrong == "tenant" else creds
    if command == "backtest":
        done = run_cli("backtest", "--spec", str(files["head"]), "--source", url, *span, *creds)
    else:
        done = diff(files, "--backtest", url, *span, *creds)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "HTTP 401" in done.stderr, done.stderr
    assert guard.refused >= 1


def test_basic_auth_from_a_file(files: dict[str, Path], served: Source, tmp_path: Path) -> None:
    with guarding(served.url, "Basic YmlsbGluZzpwdw==") as (url, _):  # billing:pw
        pair = tmp_path / "basic"
        pair.write_text("billing:pw\n")
        span = ["--from", str(served.first), "--to", str(served.last), "--format", "json"]
        args = ["--source", url, *span, "--header", "=".join(TENANT), "--basic-auth-file", str(pair)]
        done = run_cli("backtest", "--spec", str(files["head"]), *args)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["queries"] == 2
        pair.write_text("billing:wrong\n")
        assert run_cli("backtest", "--spec", str(files["head"]), *args).returncode == 2


@pytest.mark.parametrize("command", ["backtest", "diff"])
@pytest.mark.parametrize(
    ("option", "content", "message"),
    [
        ("--bearer-token-file", None, "No such file or directory"),
        ("--bearer-token-file", "DIR", "Is a directory"),
        ("--basic-auth-file", "no-colon", "expected `user:password`"),
        ("--ca-file", "not a certificate", "not a CA certificate"),
    ],
    ids=["missing", "unreadable", "not-a-pair", "bad-ca"],
)
def test_a_credentials_file_that_cannot_be_read_exits_2_before_any_server_starts(
    files: dict[str, Path], tmp_path: Path, command: str, option: str, content: str | None, message: str
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    path = tmp_path / "credential"
    if content == "DIR":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    source = ["--from", "0", "--to", "600", option, str(path)]
    if command == "backtest":
        done = run_cli("backtest", "--spec", str(files["head"]), "--source", str(files["om"]), *source)
    else:
        done = diff(files, "--backtest", str(files["om"]), *source, env={"TMPDIR": str(scratch)})
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"rulesgen: {path}: {message}" in done.stderr, done.stderr
    assert list(scratch.iterdir()) == [] and running_under(scratch) == []


def test_credentials_without_backtest_are_refused(files: dict[str, Path], tmp_path: Path) -> None:
    done = diff(files, "--bearer-token-file", str(tmp_path / "token"))
    assert done.returncode == 2 and "--bearer-token-file needs --backtest SOURCE" in done.stderr, done.stderr


# --- backtest --compare REF: the spec at a git ref beside the work tree's ---------------


@pytest.fixture(scope="module")
def repo(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository whose HEAD holds the base spec and whose work tree the head spec."""
    root = tmp_path_factory.mktemp("repo")
    spec = root / "thresholds.yaml"
    spec.write_text(files["base"].read_text())
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q"], ["add", "thresholds.yaml"], ["commit", "-q", "-m", "base"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    spec.write_text(files["head"].read_text())
    return spec


def test_compare_puts_every_alert_at_the_ref_beside_the_work_tree(files: dict[str, Path], repo: Path) -> None:
    args = ["backtest", "--spec", str(repo), "--source", str(files["om"]), "--compare", "HEAD"]
    done = run_cli(*args, "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["compare"] == "HEAD:thresholds.yaml" and data["queries"] == 2
    counts = {(a["env"], a["alert"]): (a["status"], a["before"], a["after"]) for a in data["alerts"]}
    assert counts == {
        ("prod", "Backlog"): ("changed", 3, 1),  # as diff --backtest counts it, above
        ("prod", "Queue"): ("unchanged", 1, 1),
        ("staging", "Backlog"): ("unchanged", 3, 3),  # staging keeps its override of 10
        ("staging", "Queue"): ("unchanged", 1, 1),
    }
    text = run_cli(*args)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].endswith(": HEAD | work tree")
    backlog = next(line for line in lines if line.startswith("Backlog") and "fewer" in line)
    assert backlog.split()[:4] == ["Backlog", "pages", "3", "1"]
    assert "with this change 1 (2 fewer), first page 5m later on the one shared firing" in backlog
    markdown = run_cli(*args, "--env", "prod", "--alert", "Queue", "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    assert "| Queue | pages | 1 | 1 | unchanged |" in markdown.stdout and "Backlog" not in markdown.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--compare", "no-such-ref"], "cannot read thresholds.yaml at 'no-such-ref'"),
        (["--compare", "HEAD", "--set", "Backlog.threshold=5"], "no --set, --sweep or --format html"),
        (["--compare", "HEAD", "--alert", "Nope"], "unknown alert 'Nope'"),
    ],
    ids=["bad-ref", "with-set", "unknown-alert"],
)
def test_compare_bad_input_exits_2_with_one_line(
    files: dict[str, Path], repo: Path, extra: list[str], message: str
) -> None:
    done = run_cli("backtest", "--spec", str(repo), "--source", str(files["om"]), *extra)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr


# --- without a server ---------------------------------------------------------------


def test_inhibition_sources_run_with_the_alert_they_mute() -> None:
    """A changed failure ratio is muted by the mainnet failures alert: its pages depend on
    that alert's firings, so it runs too; an unrelated alert does not."""
    prod = next(e for e in compile_document(load_spec(SPEC), tests=False).program.envs if e.env == "prod")
    ran = related(prod, ["BillingTransactionFailureRatioHigh"])
    assert "BillingMainnetNetworkFailures" in ran and "BillingTransactionFailureRatioHigh" in ran
    assert "RedisMemoryHigh" not in ran
    assert related(prod, ["RedisMemoryHigh"]) == ["RedisMemoryHigh"]


@pytest.mark.parametrize(
    ("change", "line"),
    [
        (
            PageChange("p", "A", "changed", "pages", (0, 2), (0, 2), (0, 2)),
            "would not have paged; with this change 2 (2 more)",
        ),
        (
            PageChange("p", "A", "changed", "pages", (1, 1), (1, 1), (1, 1), (-120, 60)),
            "would have paged once; with this change 1 (as many), first page from 2m earlier to 1m later on the 2 incidents",
        ),
        (
            PageChange("p", "A", "changed", "messages", (4, 1), (0, 0), (4, 1), (0, 600), 0, 1),
            "would have sent 4 messages; with this change 1 (3 fewer), first message up to 10m later on the 2 "
            "incidents, a message on 1 incident that had none",
        ),
        (PageChange("p", "A", "added", "pages", (0, 1), (0, 1), (0, 1)), "(added) would have paged once"),
        (
            PageChange("p", "A", "disabled", "pages", (5, 0), (5, 0), (5, 0)),
            "(disabled) would have paged 5 times; with this change none",
        ),
    ],
)
def test_sentences(change: PageChange, line: str) -> None:
    assert sentence(change, on_incidents=True) == line
