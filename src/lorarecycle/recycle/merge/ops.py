"""Pure tensor primitives for merging LoRA factors. Each input module is
delta W_i = s_i * B_i @ A_i with A_i (r_i, d_in), B_i (d_out, r_i)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ...adapters.lora_io import LoraModule


def weighted_concat(modules: Sequence[LoraModule], weights: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact weighted sum in delta-W space: B A = sum_i w_i s_i B_i A_i, rank sum_i r_i."""
    A = torch.cat([m.A for m in modules], dim=0)  # (sum r, d_in)
    B = torch.cat([w * m.scale * m.B for m, w in zip(modules, weights)], dim=1)  # (d_out, sum r)
    return A, B


def factor_average(modules: Sequence[LoraModule], weights: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Average the factors separately (mttl's "uniform"): B A = (sum_i w_i s_i B_i)(sum_i w_i A_i).

    Not the average of the delta Ws: the product carries cross terms B_j A_i, i != j."""
    ranks = {m.rank for m in modules}
    if len(ranks) != 1:
        raise ValueError(f"factor averaging needs equal ranks, got {sorted(ranks)}")
    A = sum(w * m.A for m, w in zip(modules, weights))  # (r, d_in)
    B = sum(w * m.scale * m.B for m, w in zip(modules, weights))  # (d_out, r)
    return A, B
