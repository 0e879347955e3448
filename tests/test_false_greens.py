"""No false greens: a promtool or amtool that crashes, says nothing or hangs has judged
nothing, so `rulesgen test` fails (table, summary, JSON, JUnit) and `generate`'s
self-check refuses to write. The broken tools are scripts put first on PATH; the
real tools judge everything else."""

from __future__ import annotations

import json
import os
from pathlib import Path
from xml.etree import ElementTree

import pytest

from conftest import minimal_text, require, run_cli

# A marker in the hanging stub's command line, to find it if it outlived rulesgen.
MARKER = "1.0473"
STUBS = {
    "crashes": "#!/bin/sh\nexit 3\n",
    "silent": "#!/bin/sh\nexit 0\n",
    "hangs": f"#!/bin/sh\nexec sleep 60 {MARKER}\n",
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    require("promtool")
    require("amtool")
    root = tmp_path_factory.mktemp("greens")
    spec = root / "thresholds.yaml"
    spec.write_text(minimal_text())
    result = run_cli("generate", "--spec", str(spec), "--output", str(root / "output"))
    assert result.returncode == 0, result.stderr
    return spec, root / "output"


def broken(tmp_path: Path, tool: str, behaviour: str) -> dict[str, str]:
    """An environment whose PATH finds a `tool` that `behaviour`s before the real one."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    stub = stubs / tool
    stub.write_text(STUBS[behaviour])
    stub.chmod(0o755)
    return {"PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}"}


def stub_processes() -> list[str]:
    """PIDs of hanging stubs still running (orphans rulesgen should have stopped)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if MARKER.encode() in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            continue
    return found


@pytest.mark.parametrize("behaviour", sorted(STUBS))
def test_a_broken_promtool_fails_the_run(generated: tuple[Path, Path], tmp_path: Path, behaviour: str) -> None:
    spec, output = generated
    junit = tmp_path / "junit.xml"
    env = broken(tmp_path, "promtool", behaviour)
    args = ("test", "--spec", str(spec), "--output", str(output), "--timeout", "2")
    text = run_cli(*args, "--junit", str(junit), env=env)
    assert text.returncode == 1, text.stdout + text.stderr
    summary = text.stdout.strip().splitlines()[-1]
    assert summary.startswith("2 alerts, 0 passed, ") and not summary.endswith(" 0 failed"), summary
    assert "Traceback" not in text.stderr
    suites = ElementTree.parse(junit).getroot().findall("testsuite")
    assert sum(int(s.get("failures", "0")) for s in suites if s.get("name") == "rulesgen.prod") > 0
    as_json = json.loads(run_cli(*args, "--format", "json", env=env).stdout)
    assert as_json["ok"] is False and all(a["failed"] for a in as_json["alerts"])
    assert stub_processes() == []


@pytest.mark.parametrize("behaviour", sorted(STUBS))
def test_a_broken_amtool_fails_the_run(generated: tuple[Path, Path], tmp_path: Path, behaviour: str) -> None:
    spec, output = generated
    args = ("test", "--spec", str(spec), "--output", str(output), "--timeout", "2", "--format", "json")
    result = run_cli(*args, env=broken(tmp_path, "amtool", behaviour))
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["config_errors"] or not all(r["ok"] for r in report["routes"])
    assert stub_processes() == []


@pytest.mark.parametrize(
    ("tool", "behaviour", "refusal"),
    [
        ("promtool", "crashes", "prod/prometheus/billing.rules.yml: promtool check rules refused it (exit 3)"),
        ("promtool", "silent", "prod/prometheus/billing.rules.yml: promtool check rules refused it (exit 0)"),
        ("amtool", "silent", "prod/alertmanager/alertmanager.yml: amtool check-config refused it (exit 0)"),
    ],
)
def test_generate_self_check_refuses_and_writes_nothing(
    tmp_path: Path, tool: str, behaviour: str, refusal: str
) -> None:
    spec = tmp_path / "thresholds.yaml"
    spec.write_text(minimal_text())
    output = tmp_path / "output"
    env = broken(tmp_path, tool, behaviour)
    result = run_cli("generate", "--spec", str(spec), "--output", str(output), env=env)
    assert result.returncode == 1, result.stderr
    assert f"rulesgen: self-check: {refusal}: (no output)" in result.stderr
    assert not output.exists()
    forced = run_cli("generate", "--spec", str(spec), "--output", str(output), "--no-self-check", env=env)
    assert forced.returncode == 0 and output.is_dir()


def test_the_real_tools_accept_what_generate_writes(generated: tuple[Path, Path]) -> None:
    spec, output = generated
    again = run_cli("generate", "--spec", str(spec), "--output", str(output))
    assert (again.returncode, again.stderr) == (0, "")


@pytest.mark.parametrize(
    ("given", "expected"), [({}, "GOMAXPROCS=1 GOGC=200"), ({"GOGC": "50"}, "GOMAXPROCS=1 GOGC=50")]
)
def test_promtool_runs_with_a_frugal_go_runtime_unless_told_otherwise(
    generated: tuple[Path, Path], tmp_path: Path, given: dict[str, str], expected: str
) -> None:
    """`promtool test rules` gets one core and a lazier garbage collector (a third less
    CPU on the burn rate's tests), and a GOGC or GOMAXPROCS set by the user wins. The
    stub records what it was given, then runs the real promtool, which must pass."""
    spec, output = generated
    seen = tmp_path / "seen"
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    stub = stubs / "promtool"
    stub.write_text(f'#!/bin/sh\necho "GOMAXPROCS=$GOMAXPROCS GOGC=$GOGC" >> {seen}\nexec {require("promtool")} "$@"\n')
    stub.chmod(0o755)
    env = {"PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}", "RULESGEN_CACHE_DIR": "off", **given}
    result = run_cli("test", "--spec", str(spec), "--output", str(output), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(seen.read_text().splitlines()) == {expected}
