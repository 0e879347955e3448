"""Writing `output/` atomically, and comparing it with what would be written."""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rulesgen.emit import Files


def write_tree(root: Path, files: Files) -> None:
    """Replace `root` with exactly `files`.

    Everything is written to a sibling temporary directory first and swapped in
    with renames, so a failure part way leaves the old tree whole, and files
    that are no longer generated disappear.
    """
    root = root.resolve()
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{root.name}.tmp-", dir=root.parent))
    try:
        for rel, content in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        os.chmod(staging, 0o755)
        if root.exists():
            old = Path(tempfile.mkdtemp(prefix=f"{root.name}.old-", dir=root.parent))
            os.rmdir(old)
            os.rename(root, old)
            os.rename(staging, root)
            shutil.rmtree(old)
        else:
            os.rename(staging, root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def read_tree(root: Path) -> Files:
    if not root.is_dir():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@dataclass
class Drift:
    """How `output/` differs from what the spec generates."""

    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    diff: str = ""

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.changed)


def compare_tree(root: Path, files: Files, max_diff_lines: int = 200) -> Drift:
    """What would change in `root` if `files` were written."""
    current = read_tree(root)
    drift = Drift(
        missing=sorted(set(files) - set(current)),
        extra=sorted(set(current) - set(files)),
        changed=sorted(p for p in set(files) & set(current) if files[p] != current[p]),
    )
    lines: list[str] = []
    for rel in drift.changed:
        lines.extend(
            difflib.unified_diff(
                current[rel].decode("utf-8", "replace").splitlines(),
                files[rel].decode("utf-8", "replace").splitlines(),
                f"{root.name}/{rel} (on disk)",
                f"{root.name}/{rel} (generated)",
                lineterm="",
            )
        )
    if len(lines) > max_diff_lines:
        lines = [*lines[:max_diff_lines], f"... {len(lines) - max_diff_lines} more diff lines"]
    drift.diff = "\n".join(lines)
    return drift
