"""The package's layers hold: data flows one way (tasks -> model -> adapters -> recycle ->
evaluate -> report), so a module imports only from layers below its own, and package parts
are imported at module level, where a reader (and this test) sees them.

The import ranking is docs/architecture.md's picture; a new module takes a rank here."""

from __future__ import annotations

import ast
from pathlib import Path

import lorarecycle

ROOT = Path(lorarecycle.__file__).resolve().parent

# top-level unit (package or module) -> rank; a unit imports only from lower ranks
RANKS = {
    "__init__": 0, "errors": 0, "layout": 0, "seeding": 0, "results": 0,
    "registry": 1, "runtime": 1, "ui": 1, "inputs": 1,
    "artifacts": 2, "parallel": 2,
    "schema": 2,
    "tasks": 3,
    "config": 4,
    "cache": 5, "model": 5,
    "train": 6,
    "adapters": 7,
    "recycle": 8,
    "evaluate": 9, "theory": 9,
    "report": 10, "diagnostics": 10,
    "plan": 11, "rundir": 11, "timings": 11,
    "jobs": 12,
    "stages": 13,
    "pipeline": 14,
    "sweep": 15,
    "cli": 16,
}
# Known arrows against the ranking, each with its reason; the list only shrinks.
KNOWN_UPWARD: set[tuple[str, str]] = set()
# The CLI defers its heavy imports (torch, transformers, the pipeline) until the arguments
# are checked, so `--help` and argument errors answer at once: it may import inside functions.
LAZY_ALLOWED = {"cli"}


def unit_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    return rel.parts[0]


def internal_imports(path: Path) -> list[tuple[ast.ImportFrom, bool]]:
    """(import, at module level) for every import of a package part in `path`."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("lorarecycle")):
            found.append((node, id(node) in top or _in_type_checking(tree, node)))
    return found


def _in_type_checking(tree: ast.Module, node: ast.AST) -> bool:
    return any(isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test) and node in ast.walk(n)
               for n in tree.body)


def target_unit(path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        parts = node.module.split(".")[1:]
    else:
        base = list(path.relative_to(ROOT).parent.parts)
        base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
        parts = base + (node.module.split(".") if node.module else [])
    return parts[0] if parts else "__init__"


def modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_every_unit_has_a_rank():
    assert {unit_of(p) for p in modules()} <= set(RANKS)


def test_imports_point_down_the_layers():
    upward = set()
    for path in modules():
        unit = unit_of(path)
        for node, _ in internal_imports(path):
            target = target_unit(path, node)
            if target != unit and RANKS[target] >= RANKS[unit]:
                upward.add((unit, target, f"{path.relative_to(ROOT)}:{node.lineno}"))
    assert {(u, t) for u, t, _ in upward} <= KNOWN_UPWARD, sorted(upward)


def test_package_parts_are_imported_at_module_level():
    inner = [f"{path.relative_to(ROOT)}:{node.lineno}" for path in modules() if unit_of(path) not in LAZY_ALLOWED
             for node, top in internal_imports(path) if not top]
    assert not inner, inner


def _task_packages() -> list[str]:
    return sorted(p.name for p in (ROOT / "tasks").iterdir() if (p / "__init__.py").is_file())


# the math task reads the two-hop task's `world` section (familiarity, exposure, name length)
SHARED_SECTIONS = {("math", "two_hop.spec")}


def test_task_packages_do_not_reach_into_each_other():
    crossing = []
    for package in _task_packages():
        for path in (ROOT / "tasks" / package).rglob("*.py"):
            for node, _ in internal_imports(path):
                module = node.module or ""
                other = next((p for p in _task_packages() if p != package and
                              (module == p or module.startswith(f"{p}.") or f".{p}" in f".{module}")), None)
                if other and (package, module) not in SHARED_SECTIONS:
                    crossing.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
    assert not crossing, crossing


# modules whose own names coincide with split names: the held-out monitor's check kinds
# (recall, retention, control) and a chain of thought's segments (hop1, hop2)
OWN_NAMES = {"evaluate/monitor.py", "evaluate/trace.py"}


def test_split_names_live_only_in_their_task_package():
    """Code outside a task package reads splits by role (the catalog), never by name."""
    from lorarecycle.tasks import TASKS

    splits = {s for name in TASKS for c in [TASKS.get(name).catalog] for s in (*c.test_splits, *c.base_checks)}
    found = []
    for path in modules():
        in_package = path.is_relative_to(ROOT / "tasks") and path.parent != ROOT / "tasks"
        if in_package or str(path.relative_to(ROOT)) in OWN_NAMES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in splits:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not found, found


def test_files_and_functions_stay_small():
    """No module over 300 lines, no function over 60: one job each, readable top to bottom."""
    long_files = [f"{p.relative_to(ROOT)}: {n}" for p in modules() if (n := len(p.read_text().splitlines())) > 300]
    long_functions = [f"{p.relative_to(ROOT)}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1}"
                      for p in modules() for node in ast.walk(ast.parse(p.read_text()))
                      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.end_lineno - node.lineno + 1 > 60]
    assert not long_files and not long_functions, long_files + long_functions
