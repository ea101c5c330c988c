"""Merges against a dense reference, and merged adapters through PEFT."""

import json

import pytest
import torch
from peft import PeftModel
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

from lorarecycle.adapters.lora_io import read_adapter
from lorarecycle.errors import UserError
from lorarecycle.recycle.merge.apply import MergeOptions, merge_adapter_dirs, merge_adapters, write_merge
from lorarecycle.recycle.merge import MERGE_METHODS

from .helpers import make_peft_adapter, random_lora_state


def write_raw_adapter(path, state, config):
    path.mkdir(parents=True)
    save_file(state, path / "adapter_model.safetensors")
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", **config}))
    return path


def rel_err(x, y):
    return float((x - y).norm() / y.norm())


def test_missing_module_contributes_zero(tmp_path):
    g = torch.Generator().manual_seed(2)
    paths = [write_raw_adapter(tmp_path / f"a{i}", random_lora_state(g, mods, rank=2), {"r": 2, "lora_alpha": 4})
             for i, mods in enumerate([{"m.q": (6, 4), "m.v": (6, 4)}, {"m.q": (6, 4)}])]
    adapters = [read_adapter(p) for p in paths]
    merged, errors = merge_adapters(adapters, "linear", [0.5, 0.5], {}, MergeOptions())
    A, B = merged["m.v"]
    assert rel_err(B @ A, 0.5 * adapters[0].modules["m.v"].delta()) < 1e-6
    A, B = merged["m.q"]
    assert rel_err(B @ A, 0.5 * (adapters[0].modules["m.q"].delta() + adapters[1].modules["m.q"].delta())) < 1e-6
    assert set(errors.values()) == {0.0}


@pytest.mark.parametrize("method", sorted(MERGE_METHODS))
def test_merged_adapter_loads_in_peft_and_matches_dense_delta(tiny_base, tmp_path, method):
    for i in range(2):
        make_peft_adapter(tiny_base, tmp_path / f"e{i}", seed=i)
    adapters = [read_adapter(tmp_path / f"e{i}") for i in range(2)]
    # rank 6 < 2 x 4: low-rank results are truncated too (cat and factor merges set their own rank)
    options = MergeOptions(rank=6, seed=1) if MERGE_METHODS.get(method).takes_output_rank else MergeOptions(seed=1)
    out = tmp_path / "merged"
    summary = merge_adapter_dirs([tmp_path / "e0", tmp_path / "e1"], method, out, options=options)
    merged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_base), out).merge_and_unload()
    reference = AutoModelForCausalLM.from_pretrained(tiny_base)
    factors, errors = merge_adapters(adapters, method, MERGE_METHODS.get(method).default_weights(2), {}, options)
    assert summary["weights"] == ([0.5, 0.5] if MERGE_METHODS.get(method).averages else [1.0, 1.0])
    assert summary["worst_error"] == pytest.approx(max(errors.values()))
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


def test_patterns_rslora_mixed_ranks_and_targets_match_peft(tiny_base, tmp_path):
    """Our reader's delta W equals what PEFT merges, for rank/alpha patterns and rsLoRA;
    then an exact merge of such adapters equals the dense sum of PEFT's own deltas."""
    from peft import LoraConfig, get_peft_model

    configs = [
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], rank_pattern={"v_proj": 2},
                   alpha_pattern={"q_proj": 3}, init_lora_weights=False),
        LoraConfig(r=3, lora_alpha=5, use_rslora=True, target_modules=["v_proj", "up_proj"], init_lora_weights=False),
    ]
    truths = []
    for i, config in enumerate(configs):
        torch.manual_seed(i)
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_base), config)
        model.save_pretrained(tmp_path / f"p{i}")
        folded = model.merge_and_unload()
        base = AutoModelForCausalLM.from_pretrained(tiny_base)
        truth = {}
        for name, module in read_adapter(tmp_path / f"p{i}").modules.items():
            truth[name] = (folded.get_submodule(name).weight - base.get_submodule(name).weight).detach().double()
            torch.testing.assert_close(module.delta().double(), truth[name], rtol=1e-4, atol=1e-6)
        truths.append(truth)
    adapters = [read_adapter(tmp_path / f"p{i}") for i in range(2)]
    merged, _ = merge_adapters(adapters, "task_arithmetic", [1.0, -0.5], {"lam": 2.0}, MergeOptions(dtype=torch.float64))
    assert set(merged) == set(truths[0]) | set(truths[1])
    for name, (A, B) in merged.items():
        expected = 2.0 * (truths[0].get(name, 0) - 0.5 * truths[1].get(name, 0))
        assert rel_err(B.double() @ A.double(), expected) < 1e-5


def test_tolerance_picks_the_smallest_rank_within_it(tmp_path):
    g = torch.Generator().manual_seed(3)
    paths = [write_raw_adapter(tmp_path / f"a{i}", random_lora_state(g, {"m.q": (20, 16)}, rank=4), {"r": 4, "lora_alpha": 4})
             for i in range(3)]
    adapters = [read_adapter(p) for p in paths]
    for tol in (1e-6, 0.3, 0.6):
        merged, errors = merge_adapters(adapters, "linear", [1 / 3] * 3, {}, MergeOptions(tolerance=tol))
        rank = merged["m.q"][0].shape[0]
        assert errors["m.q"] <= tol
        if rank > 1:  # one rank less would break the tolerance
            smaller, err = merge_adapters(adapters, "linear", [1 / 3] * 3, {}, MergeOptions(rank=rank - 1))
            assert err["m.q"] > tol
    assert merge_adapters(adapters, "linear", [1 / 3] * 3, {}, MergeOptions(tolerance=1e-6))[0]["m.q"][0].shape[0] == 12


def test_bad_weights_shapes_and_ranks_are_refused(tmp_path):
    g = torch.Generator().manual_seed(4)
    state = random_lora_state(g, {"m.q": (6, 4)}, rank=2)
    nan = dict(state)
    nan["base_model.model.m.q.lora_A.weight"] = torch.full((2, 4), float("nan"))
    write_raw_adapter(tmp_path / "nan", nan, {"r": 2})
    with pytest.raises(UserError, match=r"module m\.q: NaN or Inf"):
        read_adapter(tmp_path / "nan")
    zero = {"base_model.model.m.q.lora_A.weight": torch.zeros(0, 4), "base_model.model.m.q.lora_B.weight": torch.zeros(6, 0)}
    write_raw_adapter(tmp_path / "zero", zero, {"r": 0})
    with pytest.raises(UserError, match="r must be a positive integer, got 0"):
        read_adapter(tmp_path / "zero")
    write_raw_adapter(tmp_path / "a", state, {"r": 2})
    write_raw_adapter(tmp_path / "b", random_lora_state(g, {"m.q": (8, 4)}, rank=2), {"r": 2})
    with pytest.raises(UserError, match="different base models"):
        merge_adapter_dirs([tmp_path / "a", tmp_path / "b"], "linear", tmp_path / "out")
    with pytest.raises(UserError, match="unknown merge method 'tie'"):
        merge_adapter_dirs([tmp_path / "a", tmp_path / "a"], "tie", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out*"))  # no half-written scratch directory either


def test_svd_reports_its_own_truncation_error(tmp_path):
    g = torch.Generator().manual_seed(5)
    paths = [write_raw_adapter(tmp_path / f"a{i}", random_lora_state(g, {"m.q": (20, 16)}, rank=4), {"r": 4, "lora_alpha": 4})
             for i in range(3)]
    adapters = [read_adapter(p) for p in paths]
    merged, errors = merge_adapters(adapters, "svd", [1 / 3] * 3, {"rank": 5}, MergeOptions())
    A, B = merged["m.q"]
    dense = sum(a.modules["m.q"].delta() for a in adapters) / 3
    assert errors["m.q"] == pytest.approx(rel_err(B @ A, dense), rel=1e-3) and errors["m.q"] > 0.05


def test_svd_with_an_output_rank_is_exact_and_reports_the_true_error(tiny_base, tmp_path):
    """An output rank >= the true rank reproduces the weighted sum (svd must not first cut
    itself to the largest input rank), and a smaller one reports its error against it."""
    paths = []
    for i, r in enumerate((4, 8, 2)):
        make_peft_adapter(tiny_base, tmp_path / f"e{i}", seed=20 + i, r=r)
        paths.append(tmp_path / f"e{i}")
    adapters = [read_adapter(p) for p in paths]
    weights = [0.5, 0.3, 0.2]
    full = {n: sum(w * a.modules[n].delta().double() for a, w in zip(adapters, weights)) for n in adapters[0].modules}
    for rank, exact in ((96, True), (14, True), (3, False)):
        summary = write_merge(adapters, "svd", tmp_path / f"svd{rank}", weights=weights, options=MergeOptions(rank=rank))
        merged = read_adapter(tmp_path / f"svd{rank}")
        for name, expected in full.items():
            got = merged.modules[name].delta().double()
            error = float((got - expected).norm() / expected.norm())
            assert error == pytest.approx(summary["module_errors"][name], abs=1e-5)
            assert (error <= 1e-5) if exact else (error > 1e-2)
    with pytest.raises(UserError, match="not both"):
        write_merge(adapters, "svd", tmp_path / "both", weights=weights, params={"rank": 5}, options=MergeOptions(rank=8))
    with pytest.raises(UserError, match="parameter rank: Input should be greater than or equal to 0"):
        write_merge(adapters, "svd", tmp_path / "neg", weights=weights, params={"rank": -1})
