"""Executors run a grid's pending cells: `local` one after another in this process, `ray`
as Ray tasks with declared resources (so a GPU cluster runs the same grid unchanged)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..errors import UserError
from ..model.device import DEVICE_ENV
from ..inputs import WORKERS_ENV
from ..registry import Registry
from ..runtime import cache_root, configure_runtime
from ..ui import progress_bar
from .grid import Cell, ExecutorSpec

CellRunner = Callable[[Cell, Path], int]  # runs one cell into its directory (sweep.run.run_cell)
Executor = Callable[[list[Cell], Path, ExecutorSpec, CellRunner], None]
EXECUTORS: Registry[Executor] = Registry("executor")


@EXECUTORS.register("local")
def run_local(cells: list[Cell], run_dir: Path, spec: ExecutorSpec, run_cell: CellRunner) -> None:
    with progress_bar("grid cells", len(cells)) as advance:
        for cell in cells:
            advance(0, info=cell.label)
            run_cell(cell, run_dir)
            advance(info=cell.label)


def _ray_cell(cell: Cell, run_dir: str, num_cpus: float, run_cell: CellRunner) -> str:
    """Body of one Ray task (runs in a worker process)."""
    import torch  # loaded here, in the worker: Ray starts a fresh interpreter for it

    configure_runtime()
    torch.set_num_threads(max(1, int(num_cpus)))
    os.environ[WORKERS_ENV] = str(max(1, int(num_cpus)))  # the cell's job workers stay within its CPUs
    run_cell(cell, Path(run_dir))
    return cell.id


@EXECUTORS.register("ray")
def run_ray(cells: list[Cell], run_dir: Path, spec: ExecutorSpec, run_cell: CellRunner) -> None:
    try:
        import ray
    except ImportError:
        raise UserError("executor 'ray' needs Ray: pip install 'lorarecycle[ray]'") from None
    # Workers find the shared base-model cache and the device choice through the environment.
    # Ray shows each task only the GPUs it requested (none when num_gpus is 0), so a worker's
    # "cuda" is its own GPU and an index chosen on the driver would be wrong there.
    device = os.environ.get(DEVICE_ENV, "auto")
    if device.startswith("cuda"):
        if not spec.num_gpus:
            raise UserError(f"--device {device} with --executor ray: give each cell a GPU (--gpus-per-cell 1)")
        device = "cuda"
    env = {"LORARECYCLE_CACHE": str(cache_root()), DEVICE_ENV: device}
    runtime_env = {"env_vars": env}
    started_here = not ray.is_initialized()
    if started_here:
        try:
            if spec.address:
                ray.init(address=spec.address, runtime_env=runtime_env, log_to_driver=False)
            else:
                ray.init(runtime_env=runtime_env, include_dashboard=False, log_to_driver=False)
        except ConnectionError as err:
            raise UserError(f"executor 'ray': cannot connect to {spec.address} ({err})") from None
    try:
        task = ray.remote(num_cpus=spec.num_cpus, num_gpus=spec.num_gpus, max_retries=0)(_ray_cell)
        pending = {task.remote(cell, str(Path(run_dir).resolve()), spec.num_cpus, run_cell): cell for cell in cells}
        with progress_bar("grid cells (ray)", len(cells)) as advance:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                cell = pending.pop(done[0])
                try:
                    ray.get(done[0])
                except ray.exceptions.RayTaskError as err:
                    cause = err.as_instanceof_cause()
                    if isinstance(cause, UserError):
                        raise UserError(str(cause)) from None
                    raise
                advance(info=cell.label)
    finally:
        if started_here:
            ray.shutdown()
