"""Benchmark `rulesgen test`: the shipped spec, a synthetic 500-alert spec, and the same
scenarios run as one big promtool test file against the deployed rule files.

Prints a table. Targets on the reference machine (2 cores): shipped spec at most 3 s
(whole process), 500 alerts at most 30 s, per-alert files at least 5x faster than
one big file.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import synthetic_spec

ROOT = Path(__file__).resolve().parent.parent
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def timed(args: list[str], cwd: Path = ROOT) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, proc.returncode


def rulesgen(*args: str) -> list[str]:
    return [sys.executable, "-m", "rulesgen", *args]


def one_big_file(output: Path, env: str, target: Path) -> Path:
    """Every scenario of `env` in one test file, against the environment's deployed rule files."""
    tests: list[Any] = []
    for path in sorted((output / env / "tests").glob("*.test.yml")):
        tests.extend(yaml.load(path.read_text(), Loader=LOADER)["tests"])
    rules = sorted(str(p) for p in (output / env / "prometheus").glob("*.yml"))
    target.write_text(yaml.safe_dump({"rule_files": rules, "evaluation_interval": "1m", "tests": tests}))
    return target


def main() -> None:
    rows = []
    wall, code = timed(rulesgen("test"))
    rows.append(("shipped spec, 2 envs: rulesgen test", wall, code, "3 s"))
    with tempfile.TemporaryDirectory() as tmp:
        big = one_big_file(ROOT / "output", "prod", Path(tmp) / "big.test.yml")
        per_alert, _ = timed(rulesgen("test", "--env", "prod"))
        single, code = timed(["promtool", "test", "rules", str(big)])
        rows.append(("shipped prod, per-alert files (rulesgen test)", per_alert, 0, "-"))
        rows.append(("shipped prod, one big test file (promtool)", single, code, "-"))
        rows.append((f"  speed-up of per-alert files: {single / per_alert:.1f}x", 0.0, 0, ">= 5x"))

        spec = Path(tmp) / "synthetic.yaml"
        spec.write_text(synthetic_spec(500))
        out = Path(tmp) / "out"
        gen, code = timed(rulesgen("generate", "--spec", str(spec), "--output", str(out)))
        rows.append(("500 alerts x 2 envs: rulesgen generate", gen, code, "-"))
        wall, code = timed(rulesgen("test", "--spec", str(spec), "--output", str(out)))
        rows.append(("500 alerts x 2 envs: rulesgen test", wall, code, "30 s"))
    print(f"| {'case':<48} | {'wall s':>7} | exit | target |")
    print(f"|{'-' * 50}|{'-' * 9}|------|--------|")
    for name, secs, code, target in rows:
        shown = f"{secs:>7.2f}" if secs else " " * 7
        print(f"| {name:<48} | {shown} | {code:>4} | {target:>6} |")


if __name__ == "__main__":
    main()
