"""Merges that act on individual entries of each delta W (TIES, DARE, magnitude pruning).

They need the dense (d_out, d_in) delta W_i: trimming and dropping are defined entrywise.
The result is dense and re-factored to the output rank by `apply`."""

from __future__ import annotations

import torch

from .methods import merge_method
from .ops import dare_drop, disjoint_mean, elect_sign, magnitude_trim
from .params import Density, Drop, Sign


def dense_deltas(modules) -> torch.Tensor:
    return torch.stack([m.delta() for m in modules])  # (n, d_out, d_in)


def weighted_sum(tensors: torch.Tensor, weights) -> torch.Tensor:
    return torch.einsum("n,n...->...", torch.tensor(weights, dtype=tensors.dtype), tensors)


def consensus(tensors: torch.Tensor, weights, sign: str) -> torch.Tensor:
    """Elect signs on the weighted tensors, then the weighted disjoint mean."""
    w = torch.tensor(weights, dtype=tensors.dtype)
    elected = elect_sign(tensors * w.view(-1, 1, 1), sign)
    return disjoint_mean(tensors, w, elected)


# The entrywise rules, on stacked tensors (n, ...): the dense methods below apply them to the
# delta Ws, KnOTS to the aligned right factors (one implementation, two spaces).
def trim_sum(tensors, weights, *, generator, density: Density = 0.2) -> torch.Tensor:
    return weighted_sum(torch.stack([magnitude_trim(t, density) for t in tensors]), weights)


def trim_consensus(tensors, weights, *, generator, density: Density = 0.2, sign: Sign = "total") -> torch.Tensor:
    return consensus(torch.stack([magnitude_trim(t, density) for t in tensors]), weights, sign)


def drop_sum(tensors, weights, *, generator, drop: Drop = 0.5) -> torch.Tensor:
    return weighted_sum(torch.stack([dare_drop(t, drop, generator) for t in tensors]), weights)


def drop_consensus(tensors, weights, *, generator, drop: Drop = 0.5, sign: Sign = "total") -> torch.Tensor:
    return consensus(torch.stack([dare_drop(t, drop, generator) for t in tensors]), weights, sign)


def plain_sum(tensors, weights, *, generator) -> torch.Tensor:
    return weighted_sum(tensors, weights)


ENTRYWISE = {"magnitude_prune": trim_sum, "ties": trim_consensus, "dare_linear": drop_sum,
             "dare_ties": drop_consensus, "task_arithmetic": plain_sum}


@merge_method("magnitude_prune", space="dense", summary="keep top-density entries of each delta W, weighted sum",
              reference_url="https://huggingface.co/docs/peft/developer_guides/model_merging")
def magnitude_prune(modules, weights, *, generator, density: Density = 0.2) -> torch.Tensor:
    return trim_sum(dense_deltas(modules), weights, generator=generator, density=density)


@merge_method("ties", space="dense", summary="TIES: trim to density, elect sign (total|frequency), disjoint mean",
              reference_url="https://arxiv.org/abs/2306.01708")
def ties(modules, weights, *, generator, density: Density = 0.2, sign: Sign = "total") -> torch.Tensor:
    """Yadav et al. 2023. Signs are elected on w_i-weighted trimmed deltas; the disjoint merge
    is sum w_i t_i / sum w_i over agreeing entries (mergekit's convention; with equal
    weights it is the paper's disjoint mean)."""
    return trim_consensus(dense_deltas(modules), weights, generator=generator, density=density, sign=sign)


@merge_method("dare_linear", space="dense", summary="DARE: drop entries with prob. drop, rescale 1/(1-drop), weighted sum",
              reference_url="https://arxiv.org/abs/2311.03099")
def dare_linear(modules, weights, *, generator, drop: Drop = 0.5) -> torch.Tensor:
    return drop_sum(dense_deltas(modules), weights, generator=generator, drop=drop)


@merge_method("dare_ties", space="dense", summary="DARE drop + rescale, then TIES sign election and disjoint mean",
              reference_url="https://arxiv.org/abs/2311.03099")
def dare_ties(modules, weights, *, generator, drop: Drop = 0.5, sign: Sign = "total") -> torch.Tensor:
    return drop_consensus(dense_deltas(modules), weights, generator=generator, drop=drop, sign=sign)
