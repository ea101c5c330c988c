"""`lorarecycle status RUN_DIR` and `lorarecycle report RUN_DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from ..artifacts import read_jsonl
from ..config import validate_experiment
from ..errors import UserError
from ..layout import CONFIG_FILE, GRID_FILE, RESULTS_FILE
from ..sweep.grid import Cell, expand
from ..ui import say

RunDirArg = Annotated[Path, typer.Argument(help="a run directory (one experiment or a grid)")]


def _single(run_dir: Path) -> Cell:
    data = yaml.safe_load((run_dir / CONFIG_FILE).read_text()) or {}
    data.pop("config_hash", None)
    return Cell("", {}, validate_experiment(data, str(run_dir / CONFIG_FILE)))


def _kind(run_dir: Path) -> str:
    if (run_dir / GRID_FILE).is_file():
        return "grid"
    if (run_dir / CONFIG_FILE).is_file():
        return "single"
    raise UserError(f"{run_dir}: neither {GRID_FILE} nor {CONFIG_FILE}; not a run directory")


def status(run_dir: RunDirArg) -> None:
    """Done and pending cells (grids) or result rows (one experiment) of a run directory."""
    kind = _kind(run_dir)
    from ..sweep.store import (  # heavy: after the checks
        cell_status,
        expected_keys,
        load_grid_dir,
    )

    if kind == "single":
        cell = _single(run_dir)
        rows = read_jsonl(run_dir / RESULTS_FILE)
        done = len({(r["model"], r["library"], r["split"]) for r in rows} & expected_keys(cell))
        say(f"{run_dir}: {done}/{len(expected_keys(cell))} result rows")
        return
    cells = expand(load_grid_dir(run_dir))
    finished = 0
    for cell in cells:
        done, expected = cell_status(run_dir, cell)
        state = "done" if done == expected else ("partial" if done else "pending")
        finished += done == expected
        say(f"{cell.id}  {state:8s} {done:4d}/{expected:<4d} {cell.label}")
    say(f"{finished}/{len(cells)} cells done")


def report(run_dir: RunDirArg) -> None:
    """(Re)write report.md, report.html and the figures from the results so far."""
    kind = _kind(run_dir)
    from ..report.grid import write_grid_report  # heavy: after the checks
    from ..sweep.run import collect
    from ..sweep.store import load_grid_dir

    if kind == "single":
        cell = _single(run_dir)
        write_grid_report(run_dir, cell.config.name, [], [cell], read_jsonl(run_dir / RESULTS_FILE), markdown=False)
    else:
        grid = load_grid_dir(run_dir)
        cells = expand(grid)
        write_grid_report(run_dir, grid.name, list(grid.axes), cells, collect(run_dir, cells))
    say(f"report: {run_dir / 'report.html'}")
