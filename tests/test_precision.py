"""Precision: `auto` follows the measured speed, and evaluation never rounds a small delta W away."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from lorarecycle.errors import UserError
from lorarecycle.model import precision
from lorarecycle.model.precision import resolve_precision, set_precision

CPU = torch.device("cpu")


def test_auto_is_fp32_on_every_cpu_and_explicit_choices_stand():
    assert resolve_precision("auto", CPU) == "fp32"
    assert resolve_precision("bf16", CPU) == "bf16"
    assert resolve_precision("fp32", CPU) == "fp32"


def test_auto_on_cuda_follows_bf16_support(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_precision("auto", torch.device("cuda")) == "fp32"


def test_step_probe_offers_bf16_only_where_both_steps_beat_the_margin(monkeypatch):
    """The offer reads the model's own training steps, measured once per shape and machine."""
    from lorarecycle.config import load_preset
    from lorarecycle.model import step_probe

    cfg = load_preset("smoke")
    cases = (({"pretrain": (1.0, 0.5), "lora": (1.0, 0.7)}, True), ({"pretrain": (1.0, 0.5), "lora": (1.0, 1.2)}, False))
    for rank, (times, offered) in zip((3, 5), cases):  # each case its own shape, so its own cache entry
        calls = []

        def fake(cfg, shape, bf16, reference=None, times=times):
            calls.append(shape)
            return times[shape][bf16]

        monkeypatch.setattr(step_probe, "step_seconds", fake)
        cfg = cfg.model_copy(update={"lora": cfg.lora.model_copy(update={"r": rank})})
        first = step_probe.probe_steps(cfg)
        assert first["offered"] is offered and calls == ["pretrain", "pretrain", "lora", "lora"]
        assert step_probe.probe_steps(cfg) == first and len(calls) == 4  # read back from the disk cache


def test_step_probe_times_a_real_step_of_the_smoke_model():
    from lorarecycle.config import load_preset
    from lorarecycle.model.step_probe import step_seconds

    import math

    seconds = step_seconds(load_preset("smoke"), "lora", bf16=False)  # a real step runs (speed: benchmarks/)
    assert seconds > 0 and math.isfinite(seconds)


def test_unknown_precision_is_refused_in_one_line():
    with pytest.raises(UserError, match="expected one of auto, fp32, bf16"):
        resolve_precision("fp16", CPU)
    with pytest.raises(UserError, match="--precision"):
        set_precision("half")


def test_cpu_probe_is_measured_once_and_cached_on_disk(monkeypatch):
    calls = []
    monkeypatch.setattr(precision, "matmul_gflops", lambda dtype, **k: calls.append(dtype) or 10.0)
    precision.probe_cpu.cache_clear()
    first = precision.probe_cpu()
    precision.probe_cpu.cache_clear()  # a new process: read back from the disk cache
    second = precision.probe_cpu()
    precision.probe_cpu.cache_clear()
    assert calls == [torch.float32, torch.bfloat16]
    assert first == second and first["capability"] == torch.backends.cpu.get_cpu_capability()


def test_cpu_probe_cache_is_per_cpu(monkeypatch):
    """Two CPUs that report one name and capability (cloud machines with and without native
    bf16; a home directory shared by two machines) are measured apart by their flags, and the
    cached figures of one never stand for the other."""
    from lorarecycle.runtime import cache_root

    name = "Intel(R) Xeon(R) Processor"
    monkeypatch.setattr(precision, "cpu_description", lambda: {"cpu": name, "capability": "AVX512", "threads": 1})
    for flags, speed in (("avx512f", 10.0), ("avx512f amx_bf16", 30.0)):
        monkeypatch.setattr(precision, "matmul_gflops", lambda dtype, speed=speed, **k: speed)
        monkeypatch.setattr(precision, "cpu_fingerprint", lambda flags=flags: flags.replace(" ", "-"))
        precision.probe_cpu.cache_clear()
        measured = precision.probe_cpu()
        assert (measured["fp32_gflops"], measured["bf16_gflops"]) == (speed, speed)
    precision.probe_cpu.cache_clear()
    assert len(list((Path(cache_root()) / "precision").glob("*avx512f*.json"))) == 2


def test_cpu_fingerprint_is_a_short_plain_key():
    fingerprint = precision.cpu_fingerprint()
    assert len(fingerprint) == 12 and fingerprint.isalnum() and fingerprint == precision.cpu_fingerprint()


def test_matmul_probe_measures_a_positive_rate():
    assert precision.matmul_gflops(torch.float32, size=64, seconds=0.01) > 0


def small_delta_adapter(base_path, out, relative: float = 1e-3):
    """A PEFT adapter whose delta W is `relative` x |W| (Frobenius) in every adapted module."""
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base_path)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "up_proj", "down_proj"],
                        init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for module in peft_model.modules():
            if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
                A, B = module.lora_A["default"].weight, module.lora_B["default"].weight
                delta = module.scaling["default"] * B @ A
                B.mul_(relative * module.base_layer.weight.norm() / delta.norm())
    peft_model.save_pretrained(out)
    return {name.removeprefix("base_model.model."): (m.scaling["default"] * m.lora_B["default"].weight
                                                    @ m.lora_A["default"].weight).detach()
            for name, m in peft_model.named_modules() if hasattr(m, "lora_A") and "default" in m.lora_A}


@pytest.mark.usefixtures("on_cpu")
def test_a_small_merged_delta_changes_the_logits_as_fp64_says(tiny_base, tmp_path, monkeypatch):
    from lorarecycle.recycle.adapted import load_adapted

    deltas = small_delta_adapter(tiny_base, tmp_path / "a")
    ids = torch.arange(3, 40).reshape(1, -1)
    reference = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.float64)
    with torch.no_grad():
        before = reference(ids).logits
        for name, delta in deltas.items():
            reference.get_submodule(name).weight += delta.double()
        expected = reference(ids).logits - before

    def change(model_dtype_logits, base_logits):
        got = (model_dtype_logits - base_logits).double()
        return float((got - expected).norm() / expected.norm())

    monkeypatch.setenv("LORARECYCLE_PRECISION", "fp32")
    with torch.no_grad():
        base32 = AutoModelForCausalLM.from_pretrained(tiny_base)(ids).logits
        ours = load_adapted(tiny_base, tmp_path / "a")(ids).logits
    assert change(ours, base32) < 1e-3
    # the old evaluation, whole model cast to bf16 after merging, does not see the change
    with torch.no_grad():
        merged = load_adapted(tiny_base, tmp_path / "a").to(torch.bfloat16)
        naive = merged(ids).logits
        base16 = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.bfloat16)(ids).logits
    assert change(naive, base16) > 0.3


@pytest.mark.usefixtures("on_cpu")
def test_in_bf16_the_adapted_layer_adds_the_exact_delta(tiny_base, tmp_path, monkeypatch):
    """A bf16 run keeps the adapter unmerged in fp32: layer output - base output = delta W x."""
    from lorarecycle.model.precision import autocast
    from lorarecycle.recycle.adapted import load_adapted

    deltas = small_delta_adapter(tiny_base, tmp_path / "a")
    monkeypatch.setenv("LORARECYCLE_PRECISION", "bf16")
    model = load_adapted(tiny_base, tmp_path / "a")
    name = "model.layers.0.mlp.down_proj"
    layer = model.get_submodule(name)
    assert layer.base.weight.dtype == torch.bfloat16
    x = torch.randn(2, 5, layer.base.in_features)
    with torch.no_grad(), autocast(CPU):
        added = layer(x).double() - layer.base(x).double()
        expected = x.double() @ deltas[name].double().T
        # folding delta W into bf16 weights instead:
        w = layer.base.weight.float()
        folded = (x @ (w + deltas[name]).bfloat16().float().T - x @ w.bfloat16().float().T).double()
    assert float((added - expected).norm() / expected.norm()) < 1e-4  # fp32 rounding of y + delta
    assert float((folded - expected).norm() / expected.norm()) > 0.3


@pytest.mark.usefixtures("on_cpu")
def test_a_bf16_base_keeps_its_layernorms_in_fp32(tmp_path, monkeypatch):
    """The delta of a LoRA or routed layer is added in fp32 and passed on in fp32; GPT-2's
    LayerNorm then sees an fp32 input, which a bf16 LayerNorm refuses on CPU."""
    from lorarecycle.model.load import load_base
    from lorarecycle.model.random_hf import build_random_causal_lm

    path = build_random_causal_lm("gpt2", tmp_path / "gpt2", ["the mentor of kato rimu is bove saru ."] * 8)
    monkeypatch.setenv("LORARECYCLE_PRECISION", "bf16")
    model = load_base(path)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms and all(m.weight.dtype == torch.float32 for m in norms)
    assert model.get_output_embeddings().weight.dtype == torch.bfloat16  # the rest stays bf16
    x = torch.randn(1, 3, norms[0].normalized_shape[0])
    assert norms[0](x).dtype == torch.float32 and norms[0](x.bfloat16()).isfinite().all()


def test_report_names_the_machine_the_same_whether_the_probe_was_cached():
    """A cold run writes the probe's keys in measuring order, a warm one reads them back
    sorted: the report's machine line must not differ between the two."""
    from lorarecycle.report.markdown import machine_text

    fresh = {"cpu": "AMD EPYC", "capability": "AVX2", "threads": 2, "probe_size": 512, "fp32_gflops": 160.4,
             "bf16_gflops": 1.6, "measured": "2026-11-30T16:00:00+00:00"}
    cached = dict(sorted(fresh.items()))
    assert machine_text(fresh) == machine_text(cached) == (
        "AMD EPYC, AVX2, 2 threads; matmul 512² fp32 160 / bf16 2 GFLOP/s (probed 2026-11-30T16:00:00+00:00)")
    assert machine_text({"gpu": "NVIDIA H200"}) == "GPU NVIDIA H200"
