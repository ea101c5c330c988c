"""`lorarecycle status RUN_DIR` and `lorarecycle report RUN_DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..artifacts import check_no_links, check_output_dir
from ..config import validate_experiment
from ..errors import UserError
from ..layout import CONFIG_FILE, GRID_FILE, RESULTS_FILE
from ..inputs import read_yaml_mapping
from ..rundir import read_result_rows
from ..sweep.grid import Cell, expand
from ..ui import say

RunDirArg = Annotated[Path, typer.Argument(help="a run directory (one experiment or a grid)")]


def _single(run_dir: Path) -> Cell:
    data = read_yaml_mapping(run_dir / CONFIG_FILE)  # one line for a damaged or foreign file
    data.pop("config_hash", None)
    return Cell("", {}, validate_experiment(data, str(run_dir / CONFIG_FILE)))


def _cell_rows(run_dir: Path, cell: Cell) -> list[dict]:
    """A cell's rows, read without repairing anything (status and report never write
    results; sweep.store's reader moves damaged lines aside, as a resume must)."""
    return read_result_rows(run_dir / "cells" / cell.id / RESULTS_FILE)


def _kind(run_dir: Path) -> str:
    if (run_dir / GRID_FILE).is_file():
        return "grid"
    if (run_dir / CONFIG_FILE).is_file():
        return "single"
    raise UserError(f"{run_dir}: neither {GRID_FILE} nor {CONFIG_FILE}; not a run directory")


def status(run_dir: RunDirArg) -> None:
    """Done and pending cells (grids) or result rows (one experiment) of a run directory."""
    kind = _kind(run_dir)
    cell = _single(run_dir) if kind == "single" else None
    rows = read_result_rows(run_dir / RESULTS_FILE) if kind == "single" else None
    from ..sweep.store import cell_status, load_grid_dir  # heavy: after the checks

    if kind == "single":
        done, expected = cell_status(run_dir, cell, rows)
        say(f"{run_dir}: {done}/{expected} result rows")
        return
    cells = expand(load_grid_dir(run_dir))
    finished = 0
    for cell in cells:
        done, expected = cell_status(run_dir, cell, _cell_rows(run_dir, cell))
        state = "done" if done == expected else ("partial" if done else "pending")
        finished += done == expected
        say(f"{cell.id}  {state:8s} {done:4d}/{expected:<4d} {cell.label}")
    say(f"{finished}/{len(cells)} cells done")


def report(run_dir: RunDirArg) -> None:
    """(Re)write report.md, report.html and the figures from the results so far."""
    kind = _kind(run_dir)
    if kind == "single":
        cells, grid = [_single(run_dir)], None
        rows = read_result_rows(run_dir / RESULTS_FILE)
    else:
        from ..sweep.store import load_grid_dir

        grid = load_grid_dir(run_dir)
        cells = expand(grid)
        rows = [row for cell in cells for row in _cell_rows(run_dir, cell)]
    if not rows:  # a run interrupted before its first row: nothing to report (not a crash)
        raise UserError(f"{run_dir}: no result rows yet; resume the run first (`lorarecycle run ... --out {run_dir}`)")
    from ..report.grid import write_grid_report  # heavy: after the checks

    check_output_dir(run_dir, "run directory")
    check_no_links(run_dir, ["report.md", "report.html", "figures"])
    if grid is None:
        write_grid_report(run_dir, cells[0].config.name, [], cells, rows, markdown=False)
    else:
        write_grid_report(run_dir, grid.name, list(grid.axes), cells, rows)
    say(f"report: {run_dir / 'report.html'}")

