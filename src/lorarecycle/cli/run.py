"""`lorarecycle run`: one experiment end to end."""

from __future__ import annotations

import sys
from pathlib import Path

from ..pipeline import run_experiment
from ..report.tables import rich_table
from ..runtime import configure_runtime
from .options import BaseModelOpt, ConfigArg, OutOpt, PresetOpt, SeedOpt
from .resolve import resolve_config


def run(config: ConfigArg = None, preset: PresetOpt = None, out: OutOpt = None,
        base_model: BaseModelOpt = None, seed: SeedOpt = None) -> None:
    """Generate data, pretrain (or load) the base, train experts, recycle, evaluate, report."""
    from rich.console import Console

    cfg = resolve_config(config, preset, base_model, seed)
    configure_runtime()
    out = out or Path("runs") / f"{cfg.name}-{cfg.config_hash()}"
    rows = run_experiment(cfg, out)
    # wide when piped, so no split name or row label is cut
    Console(width=None if sys.stdout.isatty() else 200).print(rich_table(rows, f"{cfg.name} (seed {cfg.seed}, familiarity {cfg.world.familiarity}) accuracy"))
