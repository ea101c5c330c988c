"""A grid's run directory: the resolved grid, one experiment directory per cell, and the
adapters they share. Every cell appends its rows atomically, so the directory itself is
the resumable results store."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..artifacts import atomic_write_text, check_output_dir, read_jsonl
from ..errors import UserError
from ..inputs import read_yaml_mapping
from ..layout import GRID_FILE, RESULTS_FILE
from ..plan import row_keys
from ..tasks import task_of
from .grid import Cell, GridSpec, validate_grid


def cell_dir(run_dir: Path, cell: Cell) -> Path:
    return Path(run_dir) / "cells" / cell.id


def prepare_grid_dir(run_dir: Path, grid: GridSpec) -> None:
    """Record the grid, or check that `run_dir` holds this same grid (a resume)."""
    run_dir = Path(run_dir)
    check_output_dir(run_dir)
    path = run_dir / GRID_FILE
    if path.is_file():
        previous = (yaml.safe_load(path.read_text()) or {}).get("grid_hash")
        if previous != grid.grid_hash():
            raise UserError(f"{run_dir} holds a different grid (hash {previous}, this one {grid.grid_hash()}); "
                            "choose another --out")
        return
    if run_dir.exists() and any(run_dir.iterdir()):
        raise UserError(f"{run_dir} is not empty and holds no {GRID_FILE}; choose another --out")
    atomic_write_text(path, yaml.safe_dump({"grid_hash": grid.grid_hash(), **grid.model_dump(mode="json")},
                                           sort_keys=False))


def load_grid_dir(run_dir: Path) -> GridSpec:
    path = Path(run_dir) / GRID_FILE
    if not path.is_file():
        raise UserError(f"{run_dir}: no {GRID_FILE}; not a grid run directory")
    data = read_yaml_mapping(path)  # strictly: a regular UTF-8 file, unique keys
    data.pop("grid_hash", None)
    return validate_grid(data, str(path))


def expected_keys(cell: Cell) -> set[tuple]:
    catalog = task_of(cell.config).catalog
    own = cell.config.model.base_model is None
    return {(model, library, split) for model, library in row_keys(cell.config) for split in catalog.splits_for(model, own)}


def cell_rows(run_dir: Path, cell: Cell) -> list[dict]:
    return read_jsonl(cell_dir(run_dir, cell) / RESULTS_FILE)


def cell_status(run_dir: Path, cell: Cell, rows: list[dict] | None = None) -> tuple[int, int]:
    """(done, expected) result rows of one cell (`rows`: already read, e.g. without repair)."""
    expected = expected_keys(cell)
    rows = cell_rows(run_dir, cell) if rows is None else rows
    return len({(r["model"], r["library"], r["split"]) for r in rows} & expected), len(expected)
