"""External verifiers run as subprocesses: promtool and amtool are the final judges."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rulesgen.errors import ToolMissing

PACKAGES = {
    "promtool": "prometheus",
    "amtool": "prometheus-alertmanager",
    "prometheus": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "victoria-metrics": "victoria-metrics",
    "vmalert": "victoria-metrics",
}


def tool(name: str) -> str:
    """Absolute path of an external tool, or ToolMissing naming the Debian package."""
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(name, PACKAGES.get(name, name))
    return found


@dataclass(frozen=True)
class ToolResult:
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run(name: str, args: Sequence[str], cwd: Path | None = None, timeout: float = 600) -> ToolResult:
    proc = subprocess.run([tool(name), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    return ToolResult(proc.returncode, (proc.stdout + proc.stderr).strip())


def check_rules(files: Sequence[Path]) -> ToolResult:
    """`promtool check rules` on the given rule files."""
    return run("promtool", ["check", "rules", *map(str, files)])
