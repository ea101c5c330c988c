"""Turn CLI arguments into a validated ExperimentConfig or GridSpec."""

from __future__ import annotations

from pathlib import Path

from ..config import (
    ExperimentConfig,
    preset_mapping,
    read_mapping,
    set_base_model,
    validate_experiment,
)
from ..errors import UserError
from ..inputs import check_config_seeds, check_seed
from ..sweep.grid import GridSpec, validate_grid


def resolve(config: Path | None, preset: str | None, base_model: Path | None,
            seed: int | None, precision: str | None = None) -> ExperimentConfig | GridSpec:
    """An experiment, or a grid when the mapping has `axes`; `precision` overrides the config's."""
    if config is not None and preset is not None:
        raise UserError("give either a CONFIG file or --preset (a config may name its preset with `preset:`)")
    if config is not None:
        mapping, source = read_mapping(config), str(config)  # strict: UTF-8, unique keys, bounded nesting
    else:
        name = "default" if preset is None else preset  # --preset '' is a typo, not the default
        mapping, source = preset_mapping(name), f"preset {name}"
    check_config_seeds(mapping, source)
    if seed is not None:
        check_seed(seed, "--seed")
    if base_model is not None and not base_model.is_dir():
        raise UserError(f"--base-model {base_model}: no such directory")
    if precision is not None:
        mapping = {**mapping, "experiment": {**(mapping.get("experiment") or {}), "precision": precision}} \
            if "axes" in mapping else {**mapping, "precision": precision}
    if "axes" in mapping:
        if seed is not None:
            raise UserError("--seed does not apply to a grid: seeds are a grid axis (`axes: {seed: [...]}`)")
        grid = validate_grid(mapping, source)
        if base_model is not None:
            grid = grid.model_copy(update={"experiment": set_base_model(grid.experiment, base_model)})
        return grid
    cfg = validate_experiment(mapping, source)
    updates: dict = {}
    if base_model is not None:
        updates["model"] = cfg.model.model_copy(update={"base_model": str(base_model.resolve())})
    if seed is not None:
        updates["seed"] = seed
    return cfg.model_copy(update=updates) if updates else cfg


def resolve_config(config: Path | None, preset: str | None, base_model: Path | None, seed: int | None) -> ExperimentConfig:
    resolved = resolve(config, preset, base_model, seed)
    if isinstance(resolved, GridSpec):
        raise UserError(f"{config or preset} is a grid; this command takes one experiment")
    return resolved
