"""Diagnostics against dense computations, and `lorarecycle diagnose` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lorarecycle.adapters.lora_io import LoraModule
from lorarecycle.diagnostics.ops import (delta_cosine, delta_norm, effective_rank, principal_angle_cosines,
                                         sign_conflict_rate)

from .helpers import cli


def module(seed, rank=3, d_out=10, d_in=8, scale=1.5):
    g = torch.Generator().manual_seed(seed)
    return LoraModule(torch.randn(rank, d_in, generator=g, dtype=torch.float64),
                      torch.randn(d_out, rank, generator=g, dtype=torch.float64), scale)


def test_principal_angles_match_singular_values_of_the_stacked_bases():
    """For orthonormal Qx, Qy: the singular values of [Qx Qy] are sqrt(1 +- cos theta_i)."""
    g = torch.Generator().manual_seed(0)
    shared = torch.randn(12, 2, generator=g, dtype=torch.float64)
    X = torch.cat([shared, torch.randn(12, 2, generator=g, dtype=torch.float64)], 1)
    Y = torch.cat([shared @ torch.randn(2, 2, generator=g, dtype=torch.float64),
                   torch.randn(12, 3, generator=g, dtype=torch.float64)], 1)
    cos = principal_angle_cosines(X, Y).numpy()
    qx, _ = np.linalg.qr(X.numpy())
    qy, _ = np.linalg.qr(Y.numpy())
    s = np.linalg.svd(np.hstack([qx, qy]), compute_uv=False)
    from_stack = np.sort(s**2 - 1)[::-1][: len(cos)]
    np.testing.assert_allclose(cos, from_stack, atol=1e-10)
    assert cos[0] == pytest.approx(1.0) and cos[1] == pytest.approx(1.0)  # a 2-d shared subspace


def test_cosine_norm_and_effective_rank_match_dense():
    m1, m2 = module(1), module(2, rank=5)
    d1, d2 = m1.delta().numpy(), m2.delta().numpy()
    assert delta_cosine(m1, m2) == pytest.approx((d1 * d2).sum() / np.linalg.norm(d1) / np.linalg.norm(d2), rel=1e-10)
    assert delta_norm(m2) == pytest.approx(np.linalg.norm(d2), rel=1e-10)
    s = np.linalg.svd(d2, compute_uv=False)
    p = s[s > 1e-12] / s[s > 1e-12].sum()
    assert effective_rank(m2) == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-8)
    assert delta_cosine(m1, m1) == pytest.approx(1.0)


@pytest.mark.parametrize("density", [1.0, 0.3])
def test_sign_conflict_rate_matches_a_direct_count(density):
    m1, m2 = module(3), module(4)
    d1, d2 = m1.delta().numpy(), m2.delta().numpy()
    k = int(density * d1.size)
    keep1 = np.abs(d1) >= np.sort(np.abs(d1).ravel())[::-1][k - 1]
    keep2 = np.abs(d2) >= np.sort(np.abs(d2).ravel())[::-1][k - 1]
    conflicts = total = 0
    for idx in np.ndindex(d1.shape):
        if keep1[idx] and keep2[idx]:
            total += 1
            conflicts += np.sign(d1[idx]) != np.sign(d2[idx])
    assert sign_conflict_rate(m1, m2, density) == pytest.approx(conflicts / total)
    assert sign_conflict_rate(m1, LoraModule(m1.A, -m1.B, m1.scale), density) == 1.0


def test_diagnose_on_peft_adapters_writes_json(experts, tmp_path):
    result = cli("diagnose", str(experts / "e0"), str(experts / "e1"), "--json", str(tmp_path / "d.json"), cache=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "e0 ~ e1" in result.stdout and "sign conflict" in result.stdout
    data = json.loads((tmp_path / "d.json").read_text())
    assert len(data["pairs"]) == 6 and {r["module"] for r in data["pairs"]} == {r["module"] for r in data["adapters"]}


def test_diagnose_refuses_mixed_bases_and_single_adapter(experts, tmp_path):
    g = torch.Generator().manual_seed(0)
    other = tmp_path / "other"
    other.mkdir()
    from safetensors.torch import save_file

    save_file({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": torch.randn(2, 5, generator=g),
               "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": torch.randn(7, 2, generator=g)},
              other / "adapter_model.safetensors")
    (other / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 2, "lora_alpha": 2}')
    result = cli("diagnose", str(experts / "e0"), str(other), cache=tmp_path)
    assert result.returncode == 2 and "different base models" in result.stderr and "Traceback" not in result.stderr
    result = cli("diagnose", str(experts / "e0"), cache=tmp_path)
    assert result.returncode == 2 and "at least two adapters" in result.stderr
    result = cli("diagnose", str(experts / "e0"), str(experts / "e1"), "--json", str(tmp_path), cache=tmp_path)
    assert result.returncode == 2 and "is a directory; give a file name" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def write_probe(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_verdict_and_summary_follow_the_numbers():
    from lorarecycle.diagnostics.probe import ProbeRow, ProbeSet, summarize_probe, verdict

    assert verdict(0.9, 0.03, "ties").endswith("does not compose this knowledge")
    assert verdict(0.9, 0.5, "ties").endswith("only partly")
    assert verdict(0.9, 0.85, "ties").endswith("composes this knowledge")
    rows = [ProbeRow(prompt="p", answer="a", adapters=a) for a in (["x"], ["y"], ["x", "y"], ["x", "y"])]
    correct = {"x": [True, False, False, False], "y": [False, True, False, False],
               "linear": [True, False, True, False], "arrow": [False, False, False, False], "base": [False] * 4}
    summary = summarize_probe(correct, ProbeSet(rows), ["x", "y"], ["linear", "arrow"])
    assert summary["single_with_own_adapter"] == 1.0
    assert summary["models"]["linear"] == {"single": 0.5, "cross": 0.5}
    assert "cross-adapter rows: 50% (best recycled method: linear) vs 100%" in summary["verdict"]
    # every method at 0 on the cross rows: no method is named as best (that would be a tie-break)
    assert verdict(0.9, 0.0, "linear").startswith("cross-adapter rows: 0% (no recycled method above 0%) vs 90%")


def test_diagnose_with_probe_prints_a_verdict(experts, tiny_base, tmp_path):
    rows = [{"prompt": "The mentor of Kato is", "answer": "Rimu", "adapters": ["e0"]},
            {"prompt": "The employer of Rimu is", "answer": "Sobe", "adapters": ["e1"]},
            {"prompt": "Question: Who is the employer of the mentor of Kato? Reasoning:", "answer": "Sobe",
             "adapters": ["e0", "e1"], "kind": "cot"}]
    probe = write_probe(tmp_path / "probe.jsonl", rows)
    result = cli("diagnose", str(experts / "e0"), str(experts / "e1"), "--probe", str(probe), "--base-model",
                 str(tiny_base), "--methods", "linear,arrow", "--max-new-tokens", "8", "--json", str(tmp_path / "d.json"),
                 cache=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "d.json").read_text())["probe"]
    assert (summary["n_single"], summary["n_cross"]) == (2, 1)
    assert f"verdict: {summary['verdict']}" in " ".join(result.stdout.split())  # the printed verdict is the JSON one
    assert set(summary["models"]) == {"base", "e0", "e1", "linear", "arrow"}


def test_probe_naming_an_unknown_adapter_is_refused(experts, tiny_base, tmp_path):
    probe = write_probe(tmp_path / "probe.jsonl", [{"prompt": "p", "answer": "a", "adapters": ["e0"]},
                                                   {"prompt": "p", "answer": "a", "adapters": ["e0", "nope"]}])
    result = cli("diagnose", str(experts / "e0"), str(experts / "e1"), "--probe", str(probe), "--base-model",
                 str(tiny_base), cache=tmp_path)
    assert result.returncode == 2 and "probe.jsonl:2: adapter 'nope' was not given" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.strip().count("\n") == 0


def test_a_zero_delta_is_rank_zero_and_left_out_of_the_pairs(tmp_path):
    """A module with B = 0 (PEFT's initialisation, or an adapter that learned nothing) has no
    subspace: effective rank 0, norm 0, and no pair row (it crashed the run's diagnostics)."""
    from lorarecycle.adapters.lora_io import LoraAdapter
    from lorarecycle.diagnostics.report import adapter_rows, pair_rows, summarize_pairs

    zero = LoraModule(module(1).A, torch.zeros_like(module(1).B), 1.5)
    assert effective_rank(zero) == 0.0 and delta_norm(zero) == 0.0
    a = LoraAdapter(tmp_path, {}, {"m1": module(2), "m2": zero})
    b = LoraAdapter(tmp_path, {}, {"m1": module(3), "m2": module(4)})
    rows = pair_rows([a, b], ["a", "b"], density=1.0)
    assert [r["module"] for r in rows] == ["m1"]
    assert summarize_pairs(rows)[0]["modules"] == 1
    singles = {r["module"]: r for r in adapter_rows([a], ["a"])}
    assert singles["m2"]["effective_rank"] == 0.0 and singles["m2"]["norm"] == 0.0
