"""A grid: an experiment template plus axes (dotted config paths -> values) that expand
to cells, each one ExperimentConfig. Every cell is validated before anything trains."""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from ..config import ExperimentConfig, SafeName, StrictModel, stable_hash, validate_experiment
from ..errors import UserError, invalid


class ExecutorSpec(StrictModel):
    name: str = Field("local", description="local | ray")
    address: str | None = Field(None, description="Ray cluster address; None = start a local Ray instance")
    num_cpus: float = Field(2, gt=0, description="CPUs per cell (Ray resource request and torch threads)")
    num_gpus: float = Field(0, ge=0, description="GPUs per cell (Ray resource request)")


class GridSpec(StrictModel):
    name: SafeName
    experiment: dict[str, Any] = Field(default_factory=dict, description="template config (may name a preset)")
    axes: dict[str, list[Any]] = Field(min_length=1, description="dotted config path -> values")
    executor: ExecutorSpec = ExecutorSpec()

    def grid_hash(self) -> str:
        return stable_hash(self.model_dump(mode="json", exclude={"executor"}))


@dataclass(frozen=True)
class Cell:
    id: str
    axes: dict[str, Any]  # dotted path -> value
    config: ExperimentConfig

    @property
    def label(self) -> str:
        return ", ".join(f"{path}={axis_label(v)}" for path, v in self.axes.items())


def axis_label(value: Any) -> str:
    """Short printable form of an axis value (lists and mappings become compact JSON)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return str(value)
    if isinstance(value, dict):
        return "+".join(value)  # e.g. libraries {two: [...], three: [...]} -> two+three
    if isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
        return "+".join(v.get("label") or v["name"] for v in value)  # a methods list
    return json.dumps(value, separators=(",", ":"))


def set_path(data: dict, path: str, value: Any) -> dict:
    out = copy.deepcopy(data)
    node = out
    *parents, leaf = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise UserError(f"axis {path!r}: {key!r} is not a mapping")
    node[leaf] = value
    return out


def _check_axis_path(path: str) -> None:
    model: Any = ExperimentConfig
    for key in path.split("."):
        fields = getattr(model, "model_fields", None)
        if fields is None or key not in fields:
            known = ", ".join(fields) if fields else "none (not a section)"
            raise UserError(f"axis {path!r}: no config field {key!r}; known here: {known}")
        model = fields[key].annotation


def expand(grid: GridSpec) -> list[Cell]:
    """All cells, in axis order (the last axis varies fastest)."""
    for path, values in grid.axes.items():
        _check_axis_path(path)
        if not values:
            raise UserError(f"axis {path!r} is empty")
    template = dict(grid.experiment)
    base = validate_experiment(template, f"grid {grid.name}: experiment").model_dump(mode="json")
    cells = []
    for combo in itertools.product(*grid.axes.values()):
        axes = dict(zip(grid.axes, combo))
        data = {**base, "name": grid.name}
        for path, value in axes.items():
            data = set_path(data, path, value)
        where = f"grid {grid.name}: cell {', '.join(f'{p}={axis_label(v)}' for p, v in axes.items())}"
        cfg = validate_experiment(data, where)
        cells.append(Cell(stable_hash({"grid": grid.name, "config": cfg.config_hash()}, 10), axes, cfg))
    ids = [c.id for c in cells]
    if len(set(ids)) != len(ids):
        raise UserError(f"grid {grid.name}: two cells have the same config (an axis repeats a value)")
    return cells


def validate_grid(data: Any, source: str) -> GridSpec:
    from pydantic import ValidationError

    try:
        return GridSpec.model_validate(data)
    except ValidationError as err:
        raise invalid(source, err) from None
