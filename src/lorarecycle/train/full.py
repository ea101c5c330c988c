"""Full fine-tuning of every base weight: a data-access reference (tiny model only)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ..artifacts import atomic_dir, read_json, write_json
from ..config import TrainSpec
from ..model.load import load_base, load_tokenizer
from ..tasks.example import Example
from .trainer import train_causal_lm

FULL_META = "lorarecycle_full_ft.json"


def full_ft_meta(path: Path) -> dict | None:
    meta = Path(path) / FULL_META
    return read_json(meta) if meta.is_file() else None


def train_full(base_path: Path, examples: list[Example], spec: TrainSpec, seed: int, out: Path, key: str,
               loss_on_prompt: bool = False, monitor: Callable | None = None,
               fresh: Callable[[int], list[Example]] | None = None) -> dict:
    """Fine-tune all weights on `examples` (and `fresh(epoch)`, see `train_causal_lm`); write
    an HF model directory to `out` atomically."""
    tokenizer, model = load_tokenizer(base_path), load_base(base_path, torch.float32)  # fp32 master weights for AdamW
    torch.manual_seed(seed)
    stats = train_causal_lm(model, tokenizer, examples, spec, seed, f"full fine-tuning {out.name.split('-')[0]}",
                            loss_on_prompt, monitor, fresh)
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / FULL_META, {"name": "full_ft", "key": key, "seed": seed, "train": stats})
    return stats
