"""The key-value theory: closed-form edit vs a numerical solve, memory recall, the CLI."""

from __future__ import annotations

import json

import torch

from lorarecycle.theory.kv import keys, random_model, rank_one_edit, readout, store

from .helpers import cli


def small_memory(seed=0, d=24, n=20):
    g = torch.Generator().manual_seed(seed)
    model = random_model(n + 1, 3, d, 4 * d, g)
    rels = torch.randint(0, 3, (n,), generator=g)
    targets = torch.randint(0, n + 1, (n,), generator=g)
    K = keys(model, model.E[:n], model.R[rels])
    return model, K, targets, store(model, K, targets)


def test_memory_recalls_stored_facts():
    model, K, targets, W = small_memory()
    assert torch.equal(readout(model, K @ W.T), targets)


def test_closed_form_edit_is_the_minimum_norm_solution():
    model, K, targets, W = small_memory(1)
    k, i_new = K[3], model.O[(targets[3] + 1) % len(model.O)]
    dW = rank_one_edit(W, k, i_new)
    # numerical solve: min |dW|_F s.t. dW k = i_new - W k, as a least-squares problem in vec(dW)
    d, m = W.shape
    system = torch.kron(torch.eye(d, dtype=torch.float64), k[None, :])  # (d, d*m): rows give (dW k)_i
    solved = torch.linalg.lstsq(system, (i_new - W @ k)[:, None], driver="gelsd").solution.view(d, m)
    torch.testing.assert_close(dW, solved, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close((W + dW) @ k, i_new)
    assert torch.linalg.matrix_rank(dW) == 1


def test_edit_with_orthogonal_keys_has_no_collateral():
    model, K, targets, W = small_memory(2)
    k = K[0] - K[1:].T @ torch.linalg.lstsq(K[1:].T, K[0]).solution  # component of k_0 orthogonal to the others
    dW = rank_one_edit(W, k, model.O[5])
    torch.testing.assert_close(K[1:] @ dW.T, torch.zeros(len(K) - 1, W.shape[0], dtype=torch.float64), atol=1e-9, rtol=0)


def test_theory_cli_writes_table_and_figures(tmp_path):
    result = cli("theory", "--quick", "--out", str(tmp_path / "t"), cache=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "t" / "theory.json").read_text())
    assert len(data["two_hop"]) == 4
    for row in data["two_hop"]:
        assert abs(sum(row[o] for o in ("composed C", "bridge B", "unedited answer", "other")) - 1) < 1e-9
    tied = next(r for r in data["two_hop"] if "tied i_y" in r["setting"])
    assert tied["composed C"] == 1.0  # exact edits + tied embeddings: layer 2 sees e_B
    import struct

    for name in ("collateral.png", "two_hop.png"):  # real images of a readable size
        png = (tmp_path / "t" / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = struct.unpack(">II", png[16:24])
        assert 300 <= width <= 4000 and 200 <= height <= 4000, (name, width, height)
    assert "composed C" in (tmp_path / "t" / "theory.md").read_text()
