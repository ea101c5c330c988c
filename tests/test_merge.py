"""Merges against a dense reference, and merged adapters through PEFT."""

import json

import pytest
import torch
from peft import PeftModel
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

from lorarecycle.adapters.lora_io import LoraModule, read_adapter
from lorarecycle.errors import UserError
from lorarecycle.recycle.merge import ops
from lorarecycle.recycle.merge.apply import merge_adapter_dirs, merge_factors

from .conftest import random_lora_state


def random_module(g, rank, d_out=12, d_in=10, scale=0.5):
    return LoraModule(torch.randn(rank, d_in, generator=g, dtype=torch.float64),
                      torch.randn(d_out, rank, generator=g, dtype=torch.float64), scale)


def rel_err(x, y):
    return float((x - y).norm() / y.norm())


def test_weighted_concat_is_exact_mean_of_deltas_with_mixed_ranks():
    g = torch.Generator().manual_seed(0)
    mods = [random_module(g, 2, scale=1.0), random_module(g, 5, scale=0.25), random_module(g, 3, scale=2.0)]
    weights = [0.2, 0.5, 0.3]
    A, B = ops.weighted_concat(mods, weights)
    dense = sum(w * m.delta() for m, w in zip(mods, weights))
    assert A.shape[0] == 10 and rel_err(B @ A, dense) < 1e-12


def test_factor_average_has_cross_terms():
    g = torch.Generator().manual_seed(1)
    mods = [random_module(g, 4), random_module(g, 4)]
    A, B = ops.factor_average(mods, [0.5, 0.5])
    expected = (0.5 * mods[0].scale * mods[0].B + 0.5 * mods[1].scale * mods[1].B) @ (0.5 * mods[0].A + 0.5 * mods[1].A)
    assert rel_err(B @ A, expected) < 1e-12
    exact_mean = 0.5 * (mods[0].delta() + mods[1].delta())
    assert rel_err(B @ A, exact_mean) > 0.1  # not the mean of the deltas
    with pytest.raises(ValueError, match="equal ranks"):
        ops.factor_average([random_module(g, 2), random_module(g, 3)], [0.5, 0.5])


def test_missing_module_contributes_zero(tmp_path):
    g = torch.Generator().manual_seed(2)
    paths = []
    for i, modules in enumerate([{"m.q": (6, 4), "m.v": (6, 4)}, {"m.q": (6, 4)}]):
        path = tmp_path / f"a{i}"
        path.mkdir()
        save_file(random_lora_state(g, modules, rank=2), path / "adapter_model.safetensors")
        (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 2, "lora_alpha": 4}))
        paths.append(path)
    adapters = [read_adapter(p) for p in paths]
    merged = merge_factors(adapters, "uniform_delta", [0.5, 0.5], {})
    A, B = merged["m.v"]
    assert rel_err(B @ A, 0.5 * adapters[0].modules["m.v"].delta()) < 1e-6
    A, B = merged["m.q"]
    expected = 0.5 * (adapters[0].modules["m.q"].delta() + adapters[1].modules["m.q"].delta())
    assert rel_err(B @ A, expected) < 1e-6


def make_peft_adapter(base_path, out, seed, r=4):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_path)
    config = LoraConfig(r=r, lora_alpha=2 * r, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(out)
    return peft_model


@pytest.mark.parametrize("method", ["uniform_delta", "uniform_factors"])
def test_merged_adapter_loads_in_peft_and_matches_dense_delta(tiny_base, tmp_path, method):
    for i in range(2):
        make_peft_adapter(tiny_base, tmp_path / f"e{i}", seed=i)
    adapters = [read_adapter(tmp_path / f"e{i}") for i in range(2)]
    out = merge_adapter_dirs([tmp_path / "e0", tmp_path / "e1"], method, tmp_path / "merged")
    merged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_base), out).merge_and_unload()
    reference = AutoModelForCausalLM.from_pretrained(tiny_base)
    factors = merge_factors(adapters, method, [0.5, 0.5], {})
    with torch.no_grad():
        for name, (A, B) in factors.items():
            reference.get_submodule(name).weight += B @ A
    ids = torch.randint(4, 50, (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, reference(ids).logits, rtol=1e-4, atol=1e-5)
        assert not torch.allclose(merged(ids).logits, AutoModelForCausalLM.from_pretrained(tiny_base)(ids).logits)


def test_bad_adapter_inputs_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no adapter_config.json"):
        read_adapter(tmp_path / "empty")
    bad = tmp_path / "bin"
    bad.mkdir()
    (bad / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 2}')
    (bad / "adapter_model.bin").write_bytes(b"not unpickled")
    with pytest.raises(UserError, match="convert it"):
        read_adapter(bad)
    (bad / "adapter_model.safetensors").write_bytes(b"\x00\x01corrupt")
    with pytest.raises(UserError, match="unreadable safetensors"):
        read_adapter(bad)
    (bad / "adapter_config.json").write_text('{"peft_type": "LORA", "use_dora": true}')
    with pytest.raises(UserError, match="use_dora"):
        read_adapter(bad)
