"""Merges that are linear in delta W (exact, low-rank in and out), and factor averaging."""

from __future__ import annotations

import math

from .methods import merge_method
from .ops import LowRank, lowrank_svd, stack_factors, truncate
from .params import OwnRank, Scale


PAPER = "https://arxiv.org/abs/2506.13479"


# "Uniform", the position paper's parameter averaging, as users meet it: in delta-W space
# (uniform_delta) and in factor space (uniform_factors, below)
@merge_method("uniform_delta", space="delta", summary="exact mean of delta W (linear)", averages=True,
              reference_url=PAPER)
@merge_method("linear", space="delta", summary="weighted average of delta W (exact; rank sum r_i)", averages=True,
              reference_url="https://huggingface.co/docs/peft/developer_guides/model_merging")
def linear(modules, weights, *, generator, normalize: bool = True) -> LowRank:
    """sum_i w_i delta W_i, divided by sum_i w_i when `normalize`."""
    total = sum(weights) if normalize else 1.0
    if normalize and total == 0:
        raise ValueError("weights sum to 0; use normalize: false")
    return stack_factors(modules, [w / total for w in weights])


@merge_method("task_arithmetic", space="delta", summary="lambda * sum_i w_i delta W_i (exact)",
              reference_url="https://arxiv.org/abs/2212.04089")
def task_arithmetic(modules, weights, *, generator, lam: Scale = 1.0) -> LowRank:
    return stack_factors(modules, [lam * w for w in weights])


@merge_method("cat", space="delta", summary="concatenate factors: exactly sum_i w_i delta W_i at rank sum r_i",
              sets_rank=True,
              reference_url="https://huggingface.co/docs/peft/developer_guides/model_merging")
def cat(modules, weights, *, generator) -> LowRank:
    return stack_factors(modules, weights)


@merge_method("svd", space="delta", summary="truncated SVD of sum_i w_i delta W_i via QR of the factors",
              averages=True, truncates=True,
              reference_url="https://huggingface.co/docs/peft/developer_guides/model_merging")
def svd(modules, weights, *, generator, rank: OwnRank = 0) -> LowRank:
    """Best rank-`rank` approximation (0: the largest input rank) of sum_i w_i delta W_i,
    computed from the stacked factors; never forms the dense matrix."""
    k = rank or max(m.rank for m in modules)
    return truncate(*lowrank_svd(stack_factors(modules, weights)), k)[0]


@merge_method("uniform_factors", space="factors", summary="mean of A and of B separately (factor_linear)",
              averages=True, reference_url=PAPER)
@merge_method("factor_linear", space="factors", summary="average A and B separately (PEFT linear / mttl uniform)",
              averages=True,
              reference_url="https://huggingface.co/docs/peft/developer_guides/model_merging")
def factor_linear(modules, weights, *, generator, sqrt_weights: bool = False) -> LowRank:
    """B A = (sum_i c_i s_i B_i)(sum_i c_i A_i) with c_i = w_i (mttl) or sqrt(w_i) (PEFT's
    `linear`). Not a sum of the delta Ws: it carries cross terms B_j A_i. Needs equal ranks."""
    ranks = {m.rank for m in modules}
    if len(ranks) != 1:
        raise ValueError(f"factor averaging needs equal ranks, got {sorted(ranks)}")
    coeffs = [math.copysign(math.sqrt(abs(w)), w) if sqrt_weights else w for w in weights]
    A = sum(c * m.A for m, c in zip(modules, coeffs))
    B = sum((abs(c) if sqrt_weights else c) * m.scale * m.B for m, c in zip(modules, coeffs))
    return LowRank(A, B)
