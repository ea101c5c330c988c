"""Pretraining step with `torch.compile` (inductor) against eager, on the default experiment's
model and its batch shapes: is the tiny model's step bound by its many small ops (which
compiled kernels fuse) rather than by its matmuls?

Baseline measured in the same run: the eager step (forward, loss, backward, AdamW) on the same
model weights and batches. Batches: the default's batch size, lengths drawn from the sizes
pretraining buckets (compiled with `dynamic=True`, so a new length does not recompile).
Reported: compile time (first steps), median step time after warmup, the ratio, and the loss
difference after the same steps (kernels reorder float sums, so the weights drift apart).

    python benchmarks/compile.py --steps 60
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from transformers import AutoModelForCausalLM

from lorarecycle.config import load_preset
from lorarecycle.model.precision import cpu_description
from lorarecycle.model.tiny import tiny_llama_config
from lorarecycle.runtime import configure_runtime

LENGTHS = (24, 32, 40, 48, 64)


def batches(vocab: int, batch_size: int, steps: int, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(steps):
        ids = torch.randint(4, vocab, (batch_size, LENGTHS[i % len(LENGTHS)]), generator=g)
        out.append({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids})
    return out


def run(model: torch.nn.Module, data: list[dict], warmup: int) -> tuple[list[float], float, float]:
    """(step times after warmup, warmup seconds, last loss)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.0)
    times, started, loss = [], time.perf_counter(), torch.tensor(0.0)
    for i, batch in enumerate(data):
        t = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if i >= warmup:
            times.append(time.perf_counter() - t)
        if i == warmup - 1:
            warm = time.perf_counter() - started
    return times, warm, float(loss.detach())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=2 * len(LENGTHS))
    args = parser.parse_args()
    configure_runtime()
    cfg = load_preset("default")
    torch.manual_seed(0)
    vocab = 4000  # about the default world's vocabulary
    config = tiny_llama_config(cfg.model, None)
    config.vocab_size = vocab
    eager = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=torch.float32)
    compiled_model = copy.deepcopy(eager)
    data = batches(vocab, cfg.pretrain.batch_size, args.steps)
    eager_times, eager_warm, eager_loss = run(eager.train(), data, args.warmup)
    compiled = torch.compile(compiled_model.train(), dynamic=True)
    compiled_times, compiled_warm, compiled_loss = run(compiled, data, args.warmup)
    e, c = statistics.median(eager_times), statistics.median(compiled_times)
    print(f"{cpu_description()}; default model {cfg.model.hidden_size}x{cfg.model.num_layers}, batch "
          f"{cfg.pretrain.batch_size}, lengths {LENGTHS}, fp32, {args.steps} steps ({args.warmup} warmup)")
    print(f"  eager (baseline)   {1000 * e:7.1f} ms/step  warmup {eager_warm:6.1f} s")
    print(f"  torch.compile      {1000 * c:7.1f} ms/step  warmup {compiled_warm:6.1f} s  {e / c:4.2f}x the baseline")
    print(f"  loss after {args.steps} steps: eager {eager_loss:.5f}, compiled {compiled_loss:.5f}")


if __name__ == "__main__":
    main()
