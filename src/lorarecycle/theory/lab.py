"""Three numerical experiments on key-value memories (see kv.py):

1. collateral: one closed-form edit per fact; success and how many other facts change, as the
   width d and the number of stored facts n vary (near-orthogonal vs crowded keys);
2. one layer, two hops: the edits r1(A) = B and r2(B) = C summed, asked "r2 of r1 of A"
   (key from e_A and e_r1 + e_r2); also with gradient-trained rank-r LoRAs in place of the
   closed form;
3. two layers: layer 1 holds r1(A) = B, layer 2 reads layer 1's output; with tied output and
   input embeddings (i_B = e_B) the summed single-hop edits compose, untied they do not.
"""

from __future__ import annotations

import torch

from .kv import KVModel, keys, random_model, rank_one_edit, readout, store

OUTCOMES = ("composed C", "bridge B", "unedited answer", "other")


def collateral(d: int, n_facts: int, n_edits: int, g: torch.Generator) -> dict:
    model = random_model(n_facts + 1, 4, d, 4 * d, g)
    subjects = torch.arange(n_facts)
    rels = torch.randint(0, 4, (n_facts,), generator=g)
    targets = torch.randint(0, n_facts + 1, (n_facts,), generator=g)
    K = keys(model, model.E[subjects], model.R[rels])
    W = store(model, K, targets)
    before = readout(model, K @ W.T)
    success, changed = 0, 0.0
    for j in range(n_edits):
        new = (targets[j] + 1) % (n_facts + 1)
        after = readout(model, K @ (W + rank_one_edit(W, K[j], model.O[new])).T)
        success += int(after[j] == new)
        others = torch.ones(n_facts, dtype=torch.bool)
        others[j] = False
        changed += float((after[others] != before[others]).double().mean())
    return {"d": d, "m": 4 * d, "facts": n_facts, "recall": float((before == targets).double().mean()),
            "edit_success": success / n_edits, "collateral": changed / n_edits}


def _classify(answer: torch.Tensor, c: torch.Tensor, b: torch.Tensor, unedited: torch.Tensor) -> dict:
    n = len(answer)
    return {"composed C": float((answer == c).sum()) / n,
            "bridge B": float(((answer == b) & (answer != c)).sum()) / n,
            "unedited answer": float(((answer == unedited) & (answer != c) & (answer != b)).sum()) / n,
            "other": float(((answer != c) & (answer != b) & (answer != unedited)).sum()) / n}


def _world(d: int, n_chains: int, n_background: int, g: torch.Generator, tied: bool = True):
    n_entities = 3 * n_chains + n_background
    model = random_model(n_entities, 2, d, 4 * d, g, tied)
    chains = torch.arange(3 * n_chains).view(n_chains, 3)  # A, B, C
    bg = torch.arange(3 * n_chains, n_entities)
    bg_rel = torch.randint(0, 2, (n_background,), generator=g)
    bg_target = torch.randint(0, n_entities, (n_background,), generator=g)
    return model, chains, keys(model, model.E[bg], model.R[bg_rel]), bg_target


def _one_layer_setup(d: int, n_chains: int, g: torch.Generator):
    """Memory of background facts, chains (A, B, C), and keys of "A r1", "B r2" and the
    two-hop prompt "r2 of r1 of A" (relation vector e_r1 + e_r2)."""
    model, chains, K_bg, t_bg = _world(d, n_chains, 200, g)
    A, B, C = chains.T
    k1 = keys(model, model.E[A], model.R[[0]].expand(len(A), -1))
    k2 = keys(model, model.E[B], model.R[[1]].expand(len(B), -1))
    k2hop = keys(model, model.E[A], (model.R[0] + model.R[1]).expand(len(A), -1))
    return model, store(model, K_bg, t_bg), K_bg, (A, B, C), (k1, k2, k2hop)


def one_layer_two_hop(d: int, n_chains: int, g: torch.Generator) -> dict:
    """Closed-form edits, each pair summed, evaluated on the two-hop key of its chain."""
    model, W, K_bg, (A, B, C), (k1, k2, k2hop) = _one_layer_setup(d, n_chains, g)
    unedited = readout(model, k2hop @ W.T)
    answers, single = [], 0
    for j in range(n_chains):
        dW = rank_one_edit(W, k1[j], model.O[B[j]]) + rank_one_edit(W, k2[j], model.O[C[j]])
        W2 = W + dW
        answers.append(readout(model, (k2hop[j] @ W2.T)[None])[0])
        single += int(readout(model, (k1[j] @ W2.T)[None])[0] == B[j]) + int(readout(model, (k2[j] @ W2.T)[None])[0] == C[j])
    return {"setting": "one layer, closed-form edits summed", **_classify(torch.stack(answers), C, B, unedited),
            "single_hop_after_sum": single / (2 * n_chains)}


def train_lora(model: KVModel, W: torch.Tensor, k: torch.Tensor, targets: torch.Tensor, K_keep: torch.Tensor,
               rank: int, g: torch.Generator, steps: int = 300) -> torch.Tensor:
    """One rank-r delta W per row of k (batched): cross-entropy on the new fact, plus keeping
    the outputs on stored facts. Returns (n, d, m)."""
    n, m = k.shape
    d = W.shape[0]
    A = (torch.randn(n, rank, m, generator=g, dtype=torch.float64) / m**0.5).requires_grad_()
    B = torch.zeros(n, d, rank, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([A, B], lr=0.05)
    keep = K_keep @ W.T
    for _ in range(steps):
        dW = B @ A  # (n, d, m)
        out = k @ W.T + torch.einsum("ndm,nm->nd", dW, k)
        loss = torch.nn.functional.cross_entropy(out @ model.O.T * 10, targets)
        drift = torch.einsum("ndm,km->nkd", dW, K_keep)
        loss = loss + (drift**2).sum(-1).mean() / (keep**2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (B @ A).detach()


def one_layer_two_hop_lora(d: int, n_chains: int, rank: int, g: torch.Generator) -> dict:
    model, W, K_bg, (A, B, C), (k1, k2, k2hop) = _one_layer_setup(d, n_chains, g)
    dW = train_lora(model, W, k1, B, K_bg, rank, g) + train_lora(model, W, k2, C, K_bg, rank, g)
    answer = readout(model, k2hop @ W.T + torch.einsum("ndm,nm->nd", dW, k2hop))
    hop1 = readout(model, k1 @ W.T + torch.einsum("ndm,nm->nd", dW, k1))
    hop2 = readout(model, k2 @ W.T + torch.einsum("ndm,nm->nd", dW, k2))
    return {"setting": f"one layer, rank-{rank} LoRAs summed", **_classify(answer, C, B, readout(model, k2hop @ W.T)),
            "single_hop_after_sum": float(((hop1 == B).double().mean() + (hop2 == C).double().mean()) / 2)}


def two_layer_two_hop(d: int, n_chains: int, tied: bool, g: torch.Generator) -> dict:
    """Layer 1 edited with r1(A) = B, layer 2 with r2(B) = C keyed on e_B; the two-hop prompt
    feeds layer 1's output into layer 2."""
    model, chains, K_bg, t_bg = _world(d, n_chains, 200, g, tied)
    second = random_model(1, 1, d, 4 * d, g)
    model2 = KVModel(model.E, model.R, model.O, second.U, second.V)
    W1, W2 = store(model, K_bg, t_bg), store(model2, keys(model2, model.E[3 * n_chains:], model.R[[1]].expand(200, -1)), t_bg)
    A, B, C = chains.T
    k1 = keys(model, model.E[A], model.R[[0]].expand(len(A), -1))
    k2 = keys(model2, model.E[B], model.R[[1]].expand(len(B), -1))
    answers, unedited = [], []
    for j in range(n_chains):
        V1 = W1 + rank_one_edit(W1, k1[j], model.O[B[j]])
        V2 = W2 + rank_one_edit(W2, k2[j], model.O[C[j]])
        o1 = V1 @ k1[j]
        answers.append(readout(model, (V2 @ keys(model2, o1[None], model.R[[1]])[0])[None])[0])
        base_o1 = W1 @ k1[j]
        unedited.append(readout(model, (W2 @ keys(model2, base_o1[None], model.R[[1]])[0])[None])[0])
    label = "two layers, tied i_y = e_y" if tied else "two layers, untied outputs"
    return {"setting": label, **_classify(torch.stack(answers), C, B, torch.stack(unedited)), "single_hop_after_sum": None}
