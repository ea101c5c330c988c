"""KnOTS (Stoica et al. 2024): align the LoRA updates in one SVD basis, merge there."""

from __future__ import annotations

import torch

from .methods import merge_method
from .ops import LowRank, dare_drop, magnitude_trim
from .params import Density, Drop, KnotsMerge, Sign
from .sparse import consensus, weighted_sum


def shared_basis(modules) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """SVD of [delta W_1 | ... | delta W_n] = U S [V_1^T | ... | V_n^T], from the factors:
    [s_i B_i] = Q R (QR), then the SVD of R @ blockdiag(A_i), which is (sum r, n * d_in).
    Returns U (d_out, R), S (R,), and each task's coordinates V_i^T (R, d_in)."""
    B = torch.cat([m.scale * m.B for m in modules], dim=1)  # (d_out, R)
    Q, Rb = torch.linalg.qr(B)
    blocks = torch.block_diag(*[m.A for m in modules])  # (R, n * d_in)
    u, s, vh = torch.linalg.svd(Rb @ blocks, full_matrices=False)  # vh (R, n * d_in)
    d_in = modules[0].A.shape[1]
    return Q @ u, s, list(vh.split(d_in, dim=1))


@merge_method("knots", space="delta", summary="KnOTS: SVD-align the deltas, then ties|dare_ties|dare_linear|task_arithmetic on V")
def knots(modules, weights, *, generator, merge: KnotsMerge = "ties", density: Density = 0.2,
          drop: Drop = 0.5, sign: Sign = "total") -> LowRank:
    """delta W = U S merge(V_1^T, ..., V_n^T): the tasks share U S; their right factors are
    merged entrywise. Rank <= sum r_i; never forms a dense delta W."""
    U, S, coords = shared_basis(modules)
    V = torch.stack(coords)  # (n, R, d_in)
    if merge == "ties":
        merged = consensus(torch.stack([magnitude_trim(v, density) for v in V]), weights, sign)
    elif merge == "dare_ties":
        merged = consensus(torch.stack([dare_drop(v, drop, generator) for v in V]), weights, sign)
    elif merge == "dare_linear":
        merged = weighted_sum(torch.stack([dare_drop(v, drop, generator) for v in V]), weights)
    elif merge == "task_arithmetic":
        merged = weighted_sum(V, weights)
    else:
        raise ValueError(f"merge must be ties, dare_ties, dare_linear or task_arithmetic, got {merge!r}")
    return LowRank(merged, U * S)
