"""Decoding cost of routed models vs the merged model, on the same prompts.

Three random rank-16 experts on every linear layer of a base model (the default
experiment's tiny Llama, or SmolLM-135M-like shapes with --shape smol); 128 two-hop
chain-of-thought prompts; greedy decoding of exactly --new-tokens tokens (so every variant
produces the same number of tokens), in the run's precision (--precision, default auto), KV
cache. Prints the median seconds over --repeats runs, the ratio to the merged model (the
baseline, measured in the same run), and decoding GFLOP/s (2 N per generated token, N the
matmul parameters) against the measured GEMM peak of this CPU.

    python benchmarks/decode.py
    python benchmarks/decode.py --shape smol --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model

from lorarecycle.config import ModelSpec, WorldSpec
from lorarecycle.model.load import load_base, load_tokenizer
from lorarecycle.model.precision import autocast, cpu_description, current_precision, matmul_gflops, set_precision
from lorarecycle.model.tiny import build_tiny_llama
from lorarecycle.model.tokenizer import build_tokenizer
from lorarecycle.recycle.build import LibraryInputs, build_recycled
from lorarecycle.runtime import configure_runtime
from lorarecycle.tasks.two_hop.datasets import build_datasets
from lorarecycle.tasks.two_hop.world import build_world

SHAPES = {
    "tiny": ModelSpec(),  # the default experiment's base model
    "smol": ModelSpec(hidden_size=576, num_layers=30, num_heads=9, intermediate_size=1536, max_positions=256),
}
VARIANTS = {  # name: (recycler, params); "merged" is the baseline
    "merged (uniform_delta)": ("uniform_delta", {}),
    "arrow top-1": ("arrow", {"top_k": 1}),
    "arrow top-2": ("arrow", {"top_k": 2}),
    "arrow_peft top-2": ("arrow_peft", {"top_k": 2}),
    "mixture uniform": ("mixture", {}),
    "select_arrow": ("select_arrow", {}),
}


def make_library(root: Path, spec: ModelSpec, n_experts: int, rank: int) -> tuple[Path, list[Path]]:
    world = build_world(WorldSpec(), 0)
    tokenizer = build_tokenizer(world.spec.relations)
    base = root / "base"
    build_tiny_llama(spec, tokenizer, seed=0).save_pretrained(base)
    tokenizer.save_pretrained(base)
    paths = []
    for e in range(n_experts):
        torch.manual_seed(100 + e)
        config = LoraConfig(r=rank, lora_alpha=2 * rank, init_lora_weights=False,
                            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
        model = get_peft_model(load_base(base), config)
        with torch.no_grad():  # small updates, like trained experts
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.mul_(0.01)
        model.save_pretrained(root / f"e{e}")
        paths.append(root / f"e{e}")
    return base, paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    parser.add_argument("--experts", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    args = parser.parse_args()
    configure_runtime()
    set_precision(args.precision)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base, paths = make_library(root, SHAPES[args.shape], args.experts, rank=16)
        tokenizer = load_tokenizer(base)
        prompts = [ex.prompt for ex in build_datasets(build_world(WorldSpec(), 0))["twohop_cot"][: args.prompts]]
        batch = tokenizer(prompts, return_tensors="pt", padding=True)
        names = [f"e{i}" for i in range(args.experts)]
        results = {}
        for label, (method, params) in VARIANTS.items():
            inputs = LibraryInputs(base, paths, names, root / "work" / method, seed=0)
            model = build_recycled(method, inputs, params)
            times = []
            for _ in range(args.repeats + 1):  # the first run warms up
                start = time.perf_counter()
                with torch.no_grad(), autocast(torch.device("cpu")):
                    model.generate(**batch, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                                   do_sample=False, pad_token_id=tokenizer.pad_token_id)
                times.append(time.perf_counter() - start)
            results[label] = statistics.median(times[1:])
            del model
        merged = results["merged (uniform_delta)"]
        tokens = args.prompts * args.new_tokens
        n = sum(m.weight.numel() for m in load_base(base).modules() if isinstance(m, torch.nn.Linear))
        dtype = torch.bfloat16 if current_precision() == "bf16" else torch.float32
        peak = statistics.median(matmul_gflops(dtype, size=1024, seconds=0.5) for _ in range(3))
        cpu = cpu_description()
        print(f"CPU: {cpu['cpu']} ({cpu['capability']}, {cpu['threads']} threads); precision {current_precision()}; "
              f"GEMM peak {peak:.1f} GFLOP/s")
        print(f"shape={args.shape} experts={args.experts} prompts={args.prompts} new_tokens={args.new_tokens} "
              f"repeats={args.repeats} (median s; ratio = time / merged time)")
        print(f"{'variant':26s} {'seconds':>8s} {'tokens/s':>9s} {'ratio':>6s} {'of peak':>8s}")
        for label, seconds in results.items():
            print(f"{label:26s} {seconds:8.3f} {tokens / seconds:9.0f} {seconds / merged:6.2f} "
                  f"{2 * n * tokens / seconds / 1e9 / peak:8.1%}")


if __name__ == "__main__":
    main()
