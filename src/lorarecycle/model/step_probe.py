"""How fast one training step of the model at hand runs in fp32 and in bf16 on this CPU.

A square-matmul probe says little about our models: their matmuls are small and the step
is mostly other work (measured on a Xeon with AMX: a 512² matmul 3.5x faster in bf16, the
LoRA step 0.68x). So the numbers that decide whether bf16 is worth offering are the step's
own: the built-in model's full-training step (pretraining) and its LoRA step (experts), at
the config's sizes and batch sizes, on random tokens. Cached on disk per CPU, torch version,
thread count and shape, like the matmul probe.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from ..artifacts import read_json, write_json
from ..config import ExperimentConfig, stable_hash
from ..runtime import cache_root
from .precision import cpu_description, cpu_fingerprint
from .targets import resolve_target_modules
from .tiny import tiny_llama_config

STEP_PROBE_VERSION = 1
PROBE_VOCAB = 2048  # about the built-in tokenizer's size; the probe runs before any tokenizer exists
PROBE_TOKENS = 48  # a typical training sequence of the two-hop corpus
TIMED_STEPS = 5
SLOW = 4.0  # a first bf16 step this many times the fp32 median is not timed further (AVX2 only: minutes)
BF16_MARGIN = 1.25  # bf16 is offered only where its step is this much faster than fp32's


def _step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, ids: torch.Tensor, bf16: bool) -> float:
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def step_seconds(cfg: ExperimentConfig, shape: str, bf16: bool, reference: float | None = None) -> float:
    """Median seconds of one training step (`shape`: pretrain | lora) of the built-in model."""
    torch.manual_seed(0)
    config = tiny_llama_config(cfg.model, None)
    config.vocab_size = PROBE_VOCAB
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    batch = cfg.pretrain.batch_size
    if shape == "lora":
        lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha,
                          target_modules=resolve_target_modules(model, cfg.lora.target_modules))
        model, batch = get_peft_model(model, lora), cfg.experts.batch_size
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, PROBE_VOCAB, (batch, min(PROBE_TOKENS, cfg.model.max_positions)))
    model.train()
    first = _step(model, optimizer, ids, bf16)  # warm-up: kernel selection, optimizer state
    if reference is not None and first > SLOW * reference:
        return first
    return statistics.median(_step(model, optimizer, ids, bf16) for _ in range(TIMED_STEPS))


def probe_steps(cfg: ExperimentConfig) -> dict:
    """fp32 and bf16 step times of both shapes and what they say: bf16 is `offered` where both
    shapes run at least BF16_MARGIN times faster in it. Measured once per machine and shape."""
    cpu = cpu_description()
    shape = {"model": cfg.model.model_dump(mode="json", exclude={"base_model"}), "lora": [cfg.lora.r, cfg.lora.alpha],
             "batch": [cfg.pretrain.batch_size, cfg.experts.batch_size]}
    key = (f"v{STEP_PROBE_VERSION}-{cpu_fingerprint()}-{cpu['capability']}-torch{torch.__version__}"
           f"-t{cpu['threads']}-{stable_hash(shape)}")
    path = Path(cache_root()) / "precision" / f"step-{key.replace('/', '_')}.json"
    try:
        cached = read_json(path) if path.is_file() else None
    except (OSError, ValueError):
        cached = None
    if cached and "offered" in cached:
        return cached
    result: dict = {}
    for name in ("pretrain", "lora"):
        fp32 = step_seconds(cfg, name, bf16=False)
        bf16 = step_seconds(cfg, name, bf16=True, reference=fp32)
        result[name] = {"fp32_ms": round(1e3 * fp32, 2), "bf16_ms": round(1e3 * bf16, 2),
                        "bf16_speedup": round(fp32 / bf16, 2)}
    result["offered"] = all(result[n]["bf16_speedup"] >= BF16_MARGIN for n in ("pretrain", "lora"))
    result["margin"] = BF16_MARGIN
    result["measured"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        write_json(path, result)
    except OSError:  # a read-only cache only costs the probe again next time
        pass
    return result
