"""Pretraining step: one process using every core (today's pretraining) against data-parallel
processes (torch.distributed, gloo, one thread each, the batch split between them, gradients
all-reduced), at equal updates: the same global batch and the same number of steps.

Baseline measured in the same run: the single process. Prints median step times, the ratio,
and how far the data-parallel weights drift from the single process's after the same steps
(data parallelism sums gradients in another order, so it is not bit-identical: the question
is whether the speed is worth a different base model). The model is the default
experiment's; the batches are random tokens of the pretraining corpus's typical length.

    python benchmarks/pretrain_parallel.py --steps 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from transformers import AutoModelForCausalLM

from lorarecycle.config import load_preset
from lorarecycle.model.precision import cpu_description
from lorarecycle.model.step_probe import PROBE_TOKENS, PROBE_VOCAB
from lorarecycle.model.tiny import tiny_llama_config

BATCH = 32


def build(seed: int = 0) -> torch.nn.Module:
    config = tiny_llama_config(load_preset("default").model, None)
    config.vocab_size = PROBE_VOCAB
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32)


def batches(steps: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randint(0, PROBE_VOCAB, (BATCH, PROBE_TOKENS), generator=g) for _ in range(steps)]


def train(model, data: list[torch.Tensor], rank: int = 0, world: int = 1) -> list[float]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), fused=True)
    times = []
    for ids in data:
        start = time.perf_counter()
        part = ids.chunk(world)[rank]
        loss = model(input_ids=part, labels=part).loss / world
        loss.backward()
        if world > 1:  # one flat all-reduce of every gradient: what DDP's buckets amount to here
            grads = [p.grad for p in model.parameters()]
            flat = torch.cat([g.reshape(-1) for g in grads])
            dist.all_reduce(flat)
            offset = 0
            for g in grads:
                g.copy_(flat[offset: offset + g.numel()].view_as(g))
                offset += g.numel()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return times


def worker(rank: int, world: int, steps: int, port: int, out) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    model = build()
    times = train(model, batches(steps), rank, world)
    if rank == 0:
        out.put((times, {k: v.detach().clone() for k, v in model.state_dict().items()}))
    dist.barrier()
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--port", type=int, default=29511)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    torch.set_num_threads(cores)
    single = build()
    single_times = train(single, batches(args.steps))
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(r, cores, args.steps, args.port, queue)) for r in range(cores)]
    for p in procs:
        p.start()
    ddp_times, ddp_state = queue.get()
    for p in procs:
        p.join()
    warm = slice(3, None)  # kernel selection and optimizer state in the first steps
    s, d = statistics.median(single_times[warm]), statistics.median(ddp_times[warm])
    drift = max(float((ddp_state[k] - v).abs().max()) for k, v in single.state_dict().items())
    cpu = cpu_description()
    print(f"CPU: {cpu['cpu']} ({cpu['capability']}), {cores} cores; default model, batch {BATCH} x {PROBE_TOKENS} "
          f"tokens, {args.steps} steps, medians after 3 warm-up steps")
    print(f"single process, {cores} threads (baseline): {1e3 * s:.1f} ms/step")
    print(f"data parallel, {cores} processes x 1 thread (gloo): {1e3 * d:.1f} ms/step; ratio single/parallel "
          f"{s / d:.2f}x")
    print(f"weights after {args.steps} steps: max |parallel - single| = {drift:.2e}")


if __name__ == "__main__":
    main()
