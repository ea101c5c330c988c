"""Pure tensor math for routing: one linear layer's experts stacked, and their gates.

An expert's update is delta W_e = s_e B_e A_e. Stacking every expert's factors (A_cat rows,
B_cat columns, `owner[j]` = the expert of rank row j) lets a per-token gate g (.., E) be
applied as  delta(x) = ((x A_cat^T) * g[..., owner]) B_cat^T : two thin matmuls for any
number of experts, ranks that differ, and experts edited in delta-W space (GenKnowSub).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ...adapters.lora_io import LoraModule
from ..merge.ops import LowRank, lowrank_svd

LOGIT_KINDS = ("raw", "cosine")


@dataclass(frozen=True)
class ExpertBank:
    A: torch.Tensor  # (R, d_in), all experts' rows
    B: torch.Tensor  # (d_out, R), scales folded in
    owner: torch.Tensor  # (R,) long: expert index of each rank row
    prototypes: torch.Tensor  # (E, d_in) unit vectors (zero for an expert without this layer)

    @property
    def n_experts(self) -> int:
        return self.prototypes.shape[0]


def expert_update(module: LoraModule | None, general: Sequence[LoraModule] = ()) -> LowRank | None:
    """An expert's exact delta W as a low-rank pair, minus the mean of the general-knowledge
    experts' delta W when `general` is given (GenKnowSub done in delta-W space, so the
    subtraction is exact; PEFT subtracts averaged A and B factors separately)."""
    parts = ([(module, 1.0)] if module is not None else []) + [(g, -1.0 / len(general)) for g in general]
    if not parts:
        return None
    A = torch.cat([m.A.float() for m, _ in parts], dim=0)
    B = torch.cat([c * m.scale * m.B.float() for m, c in parts], dim=1)
    return LowRank(A, B)


def top_right_singular_vector(update: LowRank) -> torch.Tensor:
    """Arrow's prototype: the top right singular vector of delta W = B A (exact, from the
    factors; unique up to sign)."""
    _, _, Vh = lowrank_svd(LowRank(update.A.double(), update.B.double()))
    return Vh[0].float()


def build_bank(modules: Sequence[LoraModule | None], general: Sequence[LoraModule] = ()) -> ExpertBank:
    """Stack one layer's experts (None = this expert does not adapt the layer)."""
    updates = [expert_update(m, general) if m is not None else None for m in modules]
    d_in = next(u.A.shape[1] for u in updates if u is not None)
    d_out = next(u.B.shape[0] for u in updates if u is not None)
    A_parts, B_parts, owner, protos = [], [], [], []
    for e, u in enumerate(updates):
        if u is None:
            protos.append(torch.zeros(d_in))
            continue
        A_parts.append(u.A)
        B_parts.append(u.B)
        owner += [e] * u.A.shape[0]
        protos.append(top_right_singular_vector(u))
    return ExpertBank(torch.cat(A_parts), torch.cat(B_parts, dim=1) if B_parts else torch.zeros(d_out, 0),
                      torch.tensor(owner, dtype=torch.long), torch.stack(protos))


def arrow_logits(x: torch.Tensor, prototypes: torch.Tensor, kind: str = "raw") -> torch.Tensor:
    """|<x, v_e>| per token and expert (PEFT's Arrow), or divided by ||x|| ("cosine": a
    token's routing then does not depend on its norm)."""
    return logits_from_projections(x @ prototypes.T, x, kind)


def logits_from_projections(projections: torch.Tensor, x: torch.Tensor, kind: str) -> torch.Tensor:
    """`arrow_logits` given x @ prototypes.T already (the routed layer computes it fused
    with the experts' A projections)."""
    logits = projections.abs()
    if kind == "cosine":
        logits = logits / x.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    return logits


def top_k_softmax(logits: torch.Tensor, top_k: int, temperature: float) -> torch.Tensor:
    """Softmax over each row's top-k logits (others get weight 0); rows sum to 1.
    Few ops on purpose: at decode time this runs per token in every adapted layer."""
    values, index = logits.topk(top_k, dim=-1)
    if top_k == 1:
        return torch.zeros_like(logits).scatter_(-1, index, 1.0)
    weights = torch.softmax(values if temperature == 1.0 else values / temperature, dim=-1)
    return torch.zeros_like(logits).scatter_(-1, index, weights)

