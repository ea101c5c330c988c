"""A lower bound on the memory a training stage needs, so a config that cannot fit is
refused in one line before anything is written (not by the allocator, mid-run)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from .targets import ADAPTABLE

BYTES = 4  # fp32 weights: what every stage keeps, whatever the compute precision
TRAINED = 4  # a trained weight costs itself, its gradient and AdamW's two moments


def lora_parameters(model: nn.Module, targets: Sequence[str], rank: int) -> int:
    """Parameters of rank-`rank` LoRA factors on every adapted layer: r x (d_in + d_out) each."""
    return sum(rank * sum(module.weight.shape) for name, module in model.named_modules()
               if isinstance(module, ADAPTABLE) and name.rsplit(".", 1)[-1] in targets)


def training_bytes(model: nn.Module, targets: Sequence[str], rank: int, full_fine_tune: bool) -> int:
    """Weights and optimizer state only (activations come on top): a bound no run goes under."""
    base = sum(p.numel() for p in model.parameters())
    if full_fine_tune:
        return BYTES * TRAINED * base
    return BYTES * (base + TRAINED * lora_parameters(model, targets, rank))
