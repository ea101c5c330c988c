"""Pure measurements on LoRA modules (delta W = s B A), computed from the factors where
the quantity allows it; only the sign-conflict rate needs the dense matrices."""

from __future__ import annotations

import math

import torch

from ..adapters.lora_io import LoraModule
from ..recycle.merge.ops import LowRank, lowrank_svd, magnitude_trim


def orthonormal_basis(M: torch.Tensor, rel_tol: float = 1e-10) -> torch.Tensor:
    """Orthonormal basis of the column space of M (d, r), numerically rank-revealing."""
    U, S, _ = torch.linalg.svd(M, full_matrices=False)
    return U[:, S > S[0] * rel_tol] if len(S) and S[0] > 0 else U[:, :0]


def principal_angle_cosines(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Cosines of the principal angles between the column spaces of X and Y (descending):
    the singular values of Qx^T Qy."""
    Qx, Qy = orthonormal_basis(X), orthonormal_basis(Y)
    return torch.linalg.svdvals(Qx.T @ Qy).clamp(max=1.0)


def delta_cosine(m1: LoraModule, m2: LoraModule) -> float:
    """<dW1, dW2>_F / (|dW1| |dW2|), with <B1 A1, B2 A2> = sum((B1^T B2) * (A1 A2^T))."""
    inner = m1.scale * m2.scale * float(((m1.B.T @ m2.B) * (m1.A @ m2.A.T)).sum())
    return inner / (delta_norm(m1) * delta_norm(m2))


def delta_norm(m: LoraModule) -> float:
    """|s B A|_F from the factors: |BA|_F^2 = trace(A^T B^T B A) = sum((B^T B) * (A A^T))."""
    return abs(m.scale) * math.sqrt(max(float(((m.B.T @ m.B) * (m.A @ m.A.T)).sum()), 0.0))


def effective_rank(m: LoraModule) -> float:
    """exp(entropy of the normalised singular values) of delta W (Roy and Vetterli 2007)."""
    _, S, _ = lowrank_svd(LowRank(m.A, m.scale * m.B))
    if not S.sum() > 0:
        return 0.0  # a zero delta W has rank 0
    p = S / S.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def sign_conflict_rate(m1: LoraModule, m2: LoraModule, density: float = 1.0) -> float:
    """Among entries kept by both after TIES trimming to `density`, the fraction whose
    signs differ."""
    d1, d2 = magnitude_trim(m1.delta(), density), magnitude_trim(m2.delta(), density)
    both = (d1 != 0) & (d2 != 0)
    n = int(both.sum())
    return float(((torch.sign(d1) != torch.sign(d2)) & both).sum()) / n if n else 0.0
