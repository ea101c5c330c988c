"""The package layout says how data flows (tasks -> model -> adapters -> recycle -> evaluate
-> report; orchestration on top): every import between subpackages must point down."""

from __future__ import annotations

import ast
from pathlib import Path

import lorarecycle

ROOT = Path(lorarecycle.__file__).parent
RANK = {
    # shared utilities: no knowledge of the study
    "errors": 0, "registry": 0, "seeding": 0, "ui": 0, "runtime": 0, "artifacts": 0, "layout": 0, "parallel": 0,
    "__init__": 0, "config": 1, "results": 1, "tasks": 2, "model": 3, "train": 4, "adapters": 5, "recycle": 6, "evaluate": 7,
    "diagnostics": 8, "theory": 8, "report": 9, "jobs": 10, "pipeline": 10, "sweep": 11, "cli": 12, "presets": 0,
}
# The one known arrow up: the config validates method/reference names against the task
# catalog, which is defined with the tasks (they, in turn, read their specs from the config).
ALLOWED_UP = {("config", "tasks")}


def imported_units(root: Path, path: Path) -> set[str]:
    """Top-level units (subpackage or module of the package) that `path` imports, relatively."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    units = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            target = parts[: len(parts) - node.level] + (node.module.split(".") if node.module else [])
            units.add(target[0] if target else node.names[0].name)
    return units


def upward_imports(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        unit = path.relative_to(root).with_suffix("").parts[0]
        assert unit in RANK, f"{path}: new top-level unit {unit!r}: give it a rank here"
        for target in imported_units(root, path) - {unit}:
            target = "__init__" if target == "__version__" else target
            if RANK[target] > RANK[unit] and (unit, target) not in ALLOWED_UP:
                found.append(f"{path.relative_to(root)} ({unit}) imports {target}")
    return found


def test_every_import_between_subpackages_points_down_the_data_flow():
    found = upward_imports(ROOT)
    assert not found, "\n".join(found)


def test_the_check_finds_an_upward_import(tmp_path):
    (tmp_path / "evaluate").mkdir()
    (tmp_path / "evaluate" / "m.py").write_text("from ..report.tables import row_label\nfrom ..model import load\n")
    assert upward_imports(tmp_path) == ["evaluate/m.py (evaluate) imports report"]
