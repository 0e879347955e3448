"""The simulated week, backtested: every shipped alert catches every incident meant for
it and fires on no fault-only stretch, in both environments, as a table per alert. The
suite asserts the same (tests/test_backtest.py, on a simulated day and week); this
prints what each alert caught, for a reader.

Prints one row per environment and alert; exit 1 when an incident is missed or an alert
fires outside the incidents.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rulesgen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rulesgen", *args], capture_output=True, text=True, check=False)


def main() -> int:
    spec = str(ROOT / "thresholds.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "week.om.gz"
        made = rulesgen("simulate", "--spec", spec, "--days", "8", "--out", str(out))
        if made.returncode != 0:
            print(made.stderr, file=sys.stderr)
            return 2
        incidents = str(out.with_name("incidents.yaml"))
        done = rulesgen("backtest", "--spec", spec, "--source", str(out), "--incidents", incidents, "--format", "json")
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return 2
    bad = 0
    print(f"| {'env':8} | {'alert':40} | caught | missed | false firings |")
    for env, data in json.loads(done.stdout)["environments"].items():
        for alert, a in sorted(data["alerts"].items()):
            verdict = a["incidents"]
            bad += len(verdict["missed"]) + verdict["false_firings"]
            row = f"| {env:8} | {alert:40} | {len(verdict['caught']):6} | {len(verdict['missed']):6} |"
            print(f"{row} {verdict['false_firings']:13} |")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
