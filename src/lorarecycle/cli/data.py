"""`lorarecycle data`: write the world and every dataset as inspectable JSONL."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from ..artifacts import check_output_dir, write_json
from ..ui import say
from .options import ConfigArg, PresetOpt, SeedOpt
from .resolve import resolve_config


def _plain(obj):
    """JSON form of the world's dataclasses and sets."""
    return asdict(obj) if hasattr(obj, "__dataclass_fields__") else sorted(obj)


def data(out: Annotated[Path, typer.Option("--out", "-o", help="directory for the JSONL files")],
         config: ConfigArg = None, preset: PresetOpt = None, seed: SeedOpt = None) -> None:
    """Write world.json and one JSONL per training set and test split."""
    cfg = resolve_config(config, preset, None, seed)
    check_output_dir(out)
    from ..rundir import (
        write_data,  # heavy (torch, transformers): after the arguments are checked
    )
    from ..tasks import task_of

    world, datasets = task_of(cfg).build(cfg)
    write_data(out, datasets)
    fields = {k: v for k, v in vars(world).items() if k not in ("spec", "math", "seed")}
    write_json(out / "world.json", {"seed": cfg.seed, "task": cfg.task, "spec": cfg.world.model_dump(mode="json"),
                                    **json.loads(json.dumps(fields, default=_plain))})
    for name, examples in datasets.items():
        say(f"{out / (name + '.jsonl')}: {len(examples)} examples")
