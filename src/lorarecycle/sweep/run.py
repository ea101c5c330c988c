"""Run (or resume) a grid: validate every cell, run the unfinished ones on an executor,
then write the grid's results and report."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from ..artifacts import write_jsonl
from ..config import stable_hash
from ..layout import RESULTS_FILE
from ..pipeline import check_fewshot, run_experiment, validate
from ..tasks import task_of
from ..report.grid import write_grid_report
from ..ui import console
from .executors import EXECUTORS
from .grid import Cell, GridSpec, axis_label, expand
from .store import cell_dir, cell_rows, cell_status, prepare_grid_dir



def check_cells(cells: list[Cell]) -> None:
    """Everything that can be checked without training, for every cell, before any cell runs."""
    worlds: dict[str, dict] = {}
    for cell in cells:
        validate(cell.config)
        cfg = cell.config
        key = stable_hash({"task": cfg.task, **task_of(cfg).pretraining_sections(cfg), "seed": cfg.seed})
        if key not in worlds:
            worlds[key] = task_of(cfg).build(cfg)[1]
        check_fewshot(cell.config, worlds[key])


def run_cell(cell: Cell, run_dir: Path, controls_only: bool = False) -> int:
    """Run one cell into its directory; every row carries the cell id and its axis values."""
    extra = {"cell": cell.id, "axes": {path: axis_label(v) for path, v in cell.axes.items()}}
    return len(run_experiment(cell.config, cell_dir(run_dir, cell), extra=extra, controls_only=controls_only))


def collect(run_dir: Path, cells: list[Cell]) -> list[dict]:
    return [row for cell in cells for row in cell_rows(run_dir, cell)]


def run_grid(grid: GridSpec, run_dir: Path, controls_only: bool = False, only: list[str] | None = None) -> list[dict]:
    """Run the grid's unfinished cells (only those named in `only`, when given), then write
    the rows and report of every cell that has rows."""
    executor = EXECUTORS.get(grid.executor.name)
    cells = expand(grid)
    check_cells(cells)
    prepare_grid_dir(run_dir, grid)
    unfinished = [c for c in cells if (lambda s: s[0] < s[1])(cell_status(run_dir, c))]
    pending = [c for c in unfinished if not only or c.id in only]
    console.print(f"grid {grid.name}: {len(cells)} cells, {len(cells) - len(unfinished)} done, "
                  f"{len(pending)} to run on executor {grid.executor.name!r}")
    if pending:
        executor(pending, Path(run_dir), grid.executor, partial(run_cell, controls_only=controls_only))
    rows = collect(run_dir, cells)
    write_jsonl(Path(run_dir) / RESULTS_FILE, rows)
    write_grid_report(Path(run_dir), grid.name, list(grid.axes), cells, rows)
    return rows
