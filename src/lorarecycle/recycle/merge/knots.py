"""KnOTS (Stoica et al. 2024): align the LoRA updates in one SVD basis, merge there."""

from __future__ import annotations

import inspect
from typing import Literal

import torch

from .methods import merge_method
from .ops import LowRank
from .params import Density, Drop, Sign
from .sparse import ENTRYWISE

KnotsMerge = Literal[tuple(ENTRYWISE)]  # the entrywise rules, in step with sparse.py by construction


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


@merge_method("knots", space="delta", summary="KnOTS: SVD-align the deltas, then ties|dare_ties|dare_linear|task_arithmetic on V",
              reference_url="https://arxiv.org/abs/2410.19735")
def knots(modules, weights, *, generator, merge: KnotsMerge = "ties", density: Density = 0.2,
          drop: Drop = 0.5, sign: Sign = "total") -> LowRank:
    """delta W = U S merge(V_1^T, ..., V_n^T): the tasks share U S; their right factors are
    merged entrywise by the named variant's own rule (`sparse.ENTRYWISE`), with the
    parameters that variant takes. Rank <= sum r_i; never forms a dense delta W."""
    U, S, coords = shared_basis(modules)
    rule = ENTRYWISE[merge]
    takes = inspect.signature(rule).parameters
    params = {k: v for k, v in {"density": density, "drop": drop, "sign": sign}.items() if k in takes}
    return LowRank(rule(torch.stack(coords), weights, generator=generator, **params), U * S)
