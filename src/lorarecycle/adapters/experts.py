"""Train one LoRA expert with PEFT and save it in PEFT format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model

from ..artifacts import atomic_dir, read_json, write_json
from ..config import LoraSpec, TrainSpec
from ..model.load import load_base, load_tokenizer
from ..model.targets import resolve_target_modules
from ..tasks.example import Example
from ..train.trainer import train_causal_lm

EXPERT_META = "lorarecycle_expert.json"


def lora_config(spec: LoraSpec, target_modules: list[str]) -> LoraConfig:
    return LoraConfig(
        r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout,
        target_modules=target_modules, bias="none", task_type="CAUSAL_LM",
    )


def expert_meta(path: Path) -> dict | None:
    meta = Path(path) / EXPERT_META
    return read_json(meta) if meta.is_file() else None


def train_expert(
    base_path: Path, examples: list[Example], lora: LoraSpec, train: TrainSpec, seed: int, out: Path, name: str, key: str,
    loss_on_prompt: bool = False, monitor: Callable | None = None, fresh: Callable[[int], list[Example]] | None = None,
) -> dict:
    """Train a LoRA on `examples` (and `fresh(epoch)`) over the base model (see
    `train_causal_lm` for the loss, the monitor and `fresh`); write it to `out` atomically."""
    tokenizer = load_tokenizer(base_path)
    model = load_base(base_path)
    torch.manual_seed(seed)  # LoRA init draws from the global RNG: seed it, not whatever ran before
    targets = resolve_target_modules(model, lora.target_modules)
    peft_model = get_peft_model(model, lora_config(lora, targets))
    stats = train_causal_lm(peft_model, tokenizer, examples, train, seed, f"training expert {name}", loss_on_prompt,
                            monitor, fresh, kl_weight=getattr(train, "replay_kl", 0.0))
    with atomic_dir(out) as tmp:
        peft_model.save_pretrained(tmp)
        write_json(tmp / EXPERT_META, {"name": name, "key": key, "seed": seed, "target_modules": targets, "train": stats})
    return stats
