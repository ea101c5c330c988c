"""Turn CLI arguments into a validated ExperimentConfig."""

from __future__ import annotations

from pathlib import Path

from ..config import ExperimentConfig, load_config, load_preset
from ..errors import UserError


def resolve_config(config: Path | None, preset: str | None, base_model: Path | None, seed: int | None) -> ExperimentConfig:
    if config is not None and preset is not None:
        raise UserError("give either a CONFIG file or --preset (a config may name its preset with `preset:`)")
    cfg = load_config(config) if config is not None else load_preset(preset or "default")
    updates: dict = {}
    if base_model is not None:
        if not base_model.is_dir():
            raise UserError(f"--base-model {base_model}: no such directory")
        updates["model"] = cfg.model.model_copy(update={"base_model": str(base_model.resolve())})
    if seed is not None:
        updates["seed"] = seed
    return cfg.model_copy(update=updates) if updates else cfg
