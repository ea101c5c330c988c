"""A one-layer key-value memory and the closed-form rank-one fact edit.

A prompt "X REL" gives the MLP key k = ReLU(U (V e_X + e_REL)) (U: (m, d) MLP in-projection,
V: (d, d) attention value map, e: embeddings); the MLP output W k (W: (d, m)) is read out by
the entity output directions: answer = argmax_y <i_y, W k>. The memory stores facts by least
squares, W = I_Y K^+. The edit dW = (i_new - W k) k^T / |k|^2 is the minimum-norm change that
makes (W + dW) k = i_new.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class KVModel:
    E: torch.Tensor  # (n_entities, d) input embeddings
    R: torch.Tensor  # (n_relations, d) relation embeddings
    O: torch.Tensor  # (n_entities, d) output directions i_y (tied: O = E)
    U: torch.Tensor  # (m, d)
    V: torch.Tensor  # (d, d)


def random_model(n_entities: int, n_relations: int, d: int, m: int, g: torch.Generator, tied: bool = True) -> KVModel:
    E = torch.randn(n_entities, d, generator=g, dtype=torch.float64) / d**0.5
    O = E if tied else torch.randn(n_entities, d, generator=g, dtype=torch.float64) / d**0.5
    return KVModel(E, torch.randn(n_relations, d, generator=g, dtype=torch.float64) / d**0.5, O,
                   torch.randn(m, d, generator=g, dtype=torch.float64) / d**0.5,
                   torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))[0])


def keys(model: KVModel, x: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
    """Keys (n, m) for inputs x (n, d) (entity embeddings or earlier outputs) and relation
    vectors rel (n, d)."""
    return torch.relu((x @ model.V.T + rel) @ model.U.T)


def store(model: KVModel, K: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Least-squares memory W (d, m) with W k_j ~= i_{target_j}. K (n, m)."""
    return model.O[targets].T @ torch.linalg.pinv(K.T)


def readout(model: KVModel, outputs: torch.Tensor) -> torch.Tensor:
    """Entity index answered for each output (n, d)."""
    return (outputs @ model.O.T).argmax(dim=1)


def rank_one_edit(W: torch.Tensor, k: torch.Tensor, i_new: torch.Tensor) -> torch.Tensor:
    """The paper's edit dW = (i_new - i_old) k^T / |k|^2 with i_old = W k."""
    return torch.outer(i_new - W @ k, k) / (k @ k)
