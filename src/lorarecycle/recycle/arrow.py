"""Arrow routing (per-token, data-free) through PEFT's implementation."""

from __future__ import annotations

from pathlib import Path

from peft import ArrowConfig, create_arrow_model
from transformers import PreTrainedModel


def build_arrow_model(
    base: PreTrainedModel, expert_paths: list[Path], top_k: int, temperature: float, seed: int
) -> PreTrainedModel:
    """Route each token, in each LoRA layer, to the top-k experts by |<x, prototype>|,
    where a prototype is the top right singular vector of the expert's delta W."""
    config = ArrowConfig(top_k=top_k, router_temperature=temperature, rng_seed=seed)
    return create_arrow_model(base, [str(p) for p in expert_paths], config).eval()
