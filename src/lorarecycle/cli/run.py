"""`lorarecycle run`: one experiment, or a grid of them, end to end."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import ExperimentConfig
from ..errors import UserError
from ..report.tables import TERMINAL_WIDTH, rich_table
from ..sweep.grid import Cell, GridSpec, expand, validate_grid
from ..ui import report_console, say
from .options import (
    BaseModelOpt,
    ConfigArg,
    DeviceOpt,
    OutOpt,
    PrecisionOpt,
    PresetOpt,
    SeedOpt,
)
from .resolve import resolve


def default_out(resolved: ExperimentConfig | GridSpec) -> Path:
    if isinstance(resolved, GridSpec):
        return Path("runs") / f"{resolved.name}-{resolved.grid_hash()}"
    return Path("runs") / f"{resolved.name}-{resolved.config_hash()}"


ExecutorOpt = Annotated[Optional[str], typer.Option("--executor", help="grids: local (default) or ray")]
AddressOpt = Annotated[Optional[str], typer.Option("--address", help="grids on Ray: cluster address (default: start a local Ray)")]
ControlsOpt = Annotated[bool, typer.Option(
    "--controls-only", help="train and evaluate only what the gates read (base, union_replay); the same command "
    "without it resumes there and adds the experts and recycled rows")]
CellOpt = Annotated[Optional[list[str]], typer.Option(
    "--cell", help="grids: run only this cell (its id, as `lorarecycle status` lists it; repeatable); the "
    "rows and report cover every cell that has rows")]
GpusOpt = Annotated[Optional[float], typer.Option("--gpus-per-cell", help="grids on Ray: GPUs each cell requests (e.g. 1)")]


def run(config: ConfigArg = None, preset: PresetOpt = None, out: OutOpt = None, base_model: BaseModelOpt = None,
        seed: SeedOpt = None, executor: ExecutorOpt = None, address: AddressOpt = None,
        device: DeviceOpt = None, gpus_per_cell: GpusOpt = None, precision: PrecisionOpt = None,
        controls_only: ControlsOpt = False, cell: CellOpt = None) -> None:
    """Generate data, pretrain (or load) the base, train experts, recycle, evaluate, report.
    A config with `axes` is a grid: every cell runs (resuming finished ones) and one report
    covers them all."""

    resolved = resolve(config, preset, base_model, seed, precision)
    check_cell_names(resolved, cell or [])
    out = out or default_out(resolved)
    from ..rundir import check_before_writing  # nothing heavy: refuse before anything is created

    check_before_writing(out)
    # torch, transformers and peft load only after the arguments are checked: a usage or
    # config error answers in a second, not after ~10 s of imports
    from ..model.device import DEVICE_ENV, resolve_device, set_device
    from ..pipeline import run_experiment
    from ..report.gates import attributable, evaluate_gates
    from ..report.verdict import headline
    from ..report.grid import write_grid_report
    from ..runtime import configure_runtime
    from ..sweep.run import run_grid
    from ..tasks import task_of

    # On Ray the GPUs live on the workers: the driver checks only the device's form.
    on_ray = isinstance(resolved, GridSpec) and (executor or resolved.executor.name) == "ray"
    if device is None:  # from the environment: an error names the variable, not --device
        resolve_device(os.environ.get(DEVICE_ENV, "auto"), check_available=not on_ray, source=DEVICE_ENV)
    set_device(device or os.environ.get(DEVICE_ENV, "auto"), check_available=not on_ray)
    configure_runtime()
    if isinstance(resolved, GridSpec):
        updates = {k: v for k, v in {"name": executor, "address": address, "num_gpus": gpus_per_cell}.items()
                   if v is not None}
        executor_data = {**resolved.executor.model_dump(), **updates}
        grid = validate_grid({**resolved.model_dump(mode="json"), "executor": executor_data}, "command line")
        run_grid(grid, out, controls_only, only=cell)
        say(f"grid results: {out / 'results.jsonl'}; report: {out / 'report.html'}")
        return
    cfg = resolved
    rows = run_experiment(cfg, out, controls_only=controls_only)
    write_grid_report(out, cfg.name, [], [Cell("", {}, cfg)], rows, markdown=False)
    title = f"{cfg.name} (seed {cfg.seed}, familiarity {cfg.world.familiarity}) accuracy; intervals in report.md"
    console = report_console(TERMINAL_WIDTH)
    gates = evaluate_gates(rows, task_of(cfg).catalog, cfg.world.exposure, cfg.world.exposure_hop,
                           cfg.model.base_model is None)
    console.print(headline([(rows, gates)], task_of(cfg).catalog), style="bold" if attributable(gates) else "bold red",
                  markup=False)
    console.print(rich_table(rows, title))
    if controls_only:
        say("controls only: the same command without --controls-only adds the experts and the recycled rows")


def check_cell_names(resolved: ExperimentConfig | GridSpec, names: list[str]) -> None:
    """`--cell` names cells of this grid (before anything is written)."""
    if not names:
        return
    if not isinstance(resolved, GridSpec):
        raise UserError("--cell names cells of a grid; this config has no axes")
    ids = [c.id for c in expand(resolved)]
    for name in names:
        if name not in ids:
            raise UserError(f"--cell: no cell {name!r} in grid {resolved.name!r} (its cells: {', '.join(ids)})")
