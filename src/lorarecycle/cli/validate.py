"""`lorarecycle validate`: check a config as `run` would, train nothing, say what it would do."""

from __future__ import annotations

from ..sweep.grid import Cell, GridSpec, expand
from ..ui import say
from .options import BaseModelOpt, ConfigArg, PrecisionOpt, PresetOpt, SeedOpt
from .resolve import resolve


def validate(config: ConfigArg = None, preset: PresetOpt = None, base_model: BaseModelOpt = None,
             seed: SeedOpt = None, precision: PrecisionOpt = None) -> None:
    """Every check a run makes before it starts work (fields, model shapes, methods and their
    parameters, libraries, few-shot material, the base-model directory), for every cell of a
    grid; prints the plan. Exit 0: `run` would start; exit 2: one line naming the problem."""
    resolved = resolve(config, preset, base_model, seed, precision)
    from ..plan import (  # heavy: after the arguments are checked
        needed_experts,
        row_keys,
    )
    from ..sweep.run import check_cells
    from ..tasks import task_of

    cells = expand(resolved) if isinstance(resolved, GridSpec) else [Cell("", {}, resolved)]
    check_cells(cells)
    for cell in cells:
        cfg = cell.config
        catalog = task_of(cfg).catalog
        models = row_keys(cfg)
        say(f"ok: {cfg.name}{f' [{cell.label}]' if cell.label else ''} (config {cfg.config_hash()}, seed "
                   f"{cfg.seed}): {len(models)} models x {len(catalog.splits_for('adapter', cfg.model.base_model is None))} test splits; trains "
                   f"{', '.join(needed_experts(cfg)) or 'no adapters'}; base "
                   f"{cfg.model.base_model or 'built-in (pretrained once, cached)'}")
