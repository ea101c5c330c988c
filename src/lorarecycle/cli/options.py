"""Option aliases shared by commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

ConfigArg = Annotated[Optional[Path], typer.Argument(help="experiment YAML (fields override the preset)")]
PresetOpt = Annotated[Optional[str], typer.Option("--preset", "-p", help="named preset; default: 'default'")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", "-o", help="output directory")]
BaseModelOpt = Annotated[Optional[Path], typer.Option("--base-model", help="local HF causal-LM directory to use as the base")]
DeviceOpt = Annotated[Optional[str], typer.Option(
    "--device", help="auto (CUDA when visible, else CPU), cpu, cuda or cuda:N; default $LORARECYCLE_DEVICE or auto")]
PrecisionOpt = Annotated[Optional[str], typer.Option(
    "--precision", help="auto (bf16 only where measured faster), fp32 or bf16; overrides the config's")]
# one bound for every seed (0 <= seed < 2**63, inputs.SEED_LIMIT): `run` took 2**70, `theory` overflowed on it
SEED_RANGE = {"min": 0, "max": 2**63 - 1}
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="override the config's seed", **SEED_RANGE)]
