"""Training throughput: our loop (`train_causal_lm`) against a minimal hand-written torch
loop on the same model, data, batches and precision, and both against this machine's
measured GEMM peak, for the pretraining and LoRA-expert shapes of the default experiment.

Baselines measured in the same run: the hand-written loop (ratio = ours / hand tokens/s)
and a square fp32 (or bf16) matmul (fraction of peak = achieved model GFLOP/s / GEMM GFLOP/s).
Model FLOPs per token: 6 N for full training, 4 N for LoRA (the frozen base needs no weight
gradients), N the parameters of every matmul including the LM head. Medians over --repeats.

Both precisions are measured in one run (baseline: fp32), and the line under the table
says which is faster for each shape by the step probe's margin and what `auto` picks here
(fp32 on every CPU: the same numbers everywhere).

    python benchmarks/train.py --repeats 5
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
from peft import get_peft_model

from lorarecycle.adapters.experts import lora_config
from lorarecycle.config import LoraSpec, TrainSpec, load_preset
from lorarecycle.model.precision import autocast, cpu_description, current_precision, matmul_gflops, set_precision
from lorarecycle.model.step_probe import BF16_MARGIN
from lorarecycle.model.targets import resolve_target_modules
from lorarecycle.model.tiny import build_tiny_llama
from lorarecycle.model.tokenizer import build_tokenizer
from lorarecycle.runtime import configure_runtime
from lorarecycle.tasks import task_of
from lorarecycle.model.batching import collate, encode_example
from lorarecycle.train.trainer import length_bucketed_batches, train_causal_lm
from lorarecycle.ui import console


def matmul_params(model: torch.nn.Module) -> int:
    """Parameters that take part in a matmul per token: every Linear (the tied LM head included)."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def hand_loop(model, rows, pad_id: int, batch_size: int, lr: float, seed: int) -> tuple[float, int]:
    """The baseline: the same bucketed batches, collated up front, plain AdamW, no extras."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    order = length_bucketed_batches([len(r[0]) for r in rows], batch_size, torch.Generator().manual_seed(seed))
    batches = [collate([rows[j] for j in idx], pad_id) for idx in order]
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    device = torch.device("cpu")
    model.train()
    start = time.perf_counter()
    for batch in batches:
        with autocast(device):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start, tokens


def build(kind: str, cfg, tokenizer):
    model = build_tiny_llama(cfg.model, tokenizer, seed=0)
    if kind == "lora":
        targets = resolve_target_modules(model, "auto")
        model = get_peft_model(model, lora_config(LoraSpec(r=cfg.lora.r, alpha=cfg.lora.alpha), targets))
    return model


def measure(kind: str, cfg, tokenizer, examples, spec: TrainSpec, repeats: int) -> dict:
    loss_on_prompt = kind == "pretrain"
    rows = [encode_example(tokenizer, ex, loss_on_prompt) for ex in examples]
    n = matmul_params(build(kind, cfg, tokenizer))
    flops_per_token = (6 if kind == "pretrain" else 4) * n
    ours, hand = [], []
    for r in range(repeats):
        model = build(kind, cfg, tokenizer)
        stats = train_causal_lm(model, tokenizer, examples, spec, seed=r, description=f"{kind} (ours)",
                                loss_on_prompt=loss_on_prompt)
        ours.append(stats["tokens"] / stats["seconds"])
        model = build(kind, cfg, tokenizer)
        seconds, tokens = hand_loop(model, rows, tokenizer.pad_token_id, spec.batch_size, spec.lr, seed=r)
        hand.append(tokens / seconds)
    ours_tps, hand_tps = statistics.median(ours), statistics.median(hand)
    return {"shape": kind, "examples": len(examples), "batch": spec.batch_size, "params_matmul": n,
            "ours_tokens_s": ours_tps, "hand_tokens_s": hand_tps, "ratio": ours_tps / hand_tps,
            "ours_gflops": ours_tps * flops_per_token / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--examples", type=int, default=1024, help="training examples per shape (one epoch)")
    args = parser.parse_args()
    configure_runtime()
    cfg = load_preset("default")
    task = task_of(cfg)
    _, datasets = task.build(cfg)
    tokenizer = build_tokenizer(task.vocabulary(cfg))
    pretrain = datasets["pretrain"][: args.examples]
    facts = (datasets["hop1"] + datasets["hop2"]) * math.ceil(args.examples / (len(datasets["hop1"]) * 2))
    cpu = cpu_description()
    console.print(f"CPU: {cpu['cpu']} ({cpu['capability']}, {cpu['threads']} threads); medians of {args.repeats} runs; "
                  "GEMM peak: a 1024^2 matmul in the same precision, median of 3", markup=False, highlight=False,
                  soft_wrap=True)
    header = f"{'shape':9s} {'precision':9s} {'matmul params':>13s} {'ours tok/s':>11s} {'hand tok/s':>11s} " \
             f"{'ours/hand':>9s} {'GFLOP/s':>8s} {'of peak':>8s}"
    console.print(header, markup=False, highlight=False, soft_wrap=True)
    rates: dict[tuple[str, str], float] = {}
    for precision in ("fp32", "bf16"):
        set_precision(precision)
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        peak = statistics.median(matmul_gflops(dtype, size=1024, seconds=0.5) for _ in range(3))
        for r in (measure("pretrain", cfg, tokenizer, pretrain, TrainSpec(epochs=1, lr=1e-3, batch_size=32),
                          args.repeats),
                  measure("lora", cfg, tokenizer, facts[: args.examples], TrainSpec(epochs=1, lr=1e-3, batch_size=16),
                          args.repeats)):
            rates[r["shape"], precision] = r["ours_tokens_s"]
            console.print(f"{r['shape']:9s} {precision:9s} {r['params_matmul']:13,d} {r['ours_tokens_s']:11.0f} "
                          f"{r['hand_tokens_s']:11.0f} {r['ratio']:9.2f} {r['ours_gflops']:8.1f} "
                          f"{r['ours_gflops'] / peak:8.0%}", markup=False, highlight=False, soft_wrap=True)
    set_precision("auto")
    for shape in ("pretrain", "lora"):
        speedup = rates[shape, "bf16"] / rates[shape, "fp32"]
        faster = "bf16" if speedup >= BF16_MARGIN else "fp32"
        console.print(f"{shape}: bf16 / fp32 = {speedup:.2f}x (baseline fp32, same run); faster by the "
                      f"{BF16_MARGIN}x margin: {faster}; auto on this CPU: {current_precision()}",
                      markup=False, highlight=False, soft_wrap=True)


if __name__ == "__main__":
    main()
