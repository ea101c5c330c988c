"""`lorarecycle data`: write the world and every dataset as inspectable JSONL."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from ..artifacts import write_json
from ..pipeline import write_data
from ..tasks.datasets import build_datasets
from ..tasks.world import build_world
from .options import ConfigArg, PresetOpt, SeedOpt
from .resolve import resolve_config


def data(out: Annotated[Path, typer.Option("--out", "-o", help="directory for the JSONL files")],
         config: ConfigArg = None, preset: PresetOpt = None, seed: SeedOpt = None) -> None:
    """Write world.json and one JSONL per training set and test split."""
    cfg = resolve_config(config, preset, None, seed)
    world = build_world(cfg.world, cfg.seed)
    datasets = build_datasets(world)
    write_data(out, datasets)
    write_json(out / "world.json", {"seed": cfg.seed, "spec": cfg.world.model_dump(mode="json"),
                                    "chains": [asdict(c) for c in world.chains],
                                    "background": [asdict(f) for f in world.background]})
    for name, examples in datasets.items():
        typer.echo(f"{out / (name + '.jsonl')}: {len(examples)} examples")
