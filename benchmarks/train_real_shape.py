"""LoRA training step cost at a real small LM's shape (SmolLM2-135M: 30 layers, width 576,
9 heads / 3 KV heads, MLP 1536, vocabulary 49152, tied head), random weights.

Baseline measured in the same run: the model's own loss (`model(**batch).loss`, the LM head
and its softmax at every position). Variants: the head on scored positions only
(`trainer.scored_loss`), and that plus gradient checkpointing. Two label layouts: answer
only (the plain recipe: ~10 scored tokens of ~64) and the whole sequence (replay recipe).
Medians over --repeats; tokens/s counts every input token.

    python benchmarks/train_real_shape.py
    python benchmarks/train_real_shape.py --layers 8 --repeats 3   # a shorter stack, quicker
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from lorarecycle.model.batching import IGNORE
from lorarecycle.model.precision import cpu_description
from lorarecycle.runtime import configure_runtime
from lorarecycle.train.trainer import scored_loss


def smollm2_shape(layers: int) -> LlamaConfig:
    return LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=layers,
                       num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048,
                       tie_word_embeddings=True, rope_theta=100000.0)


def batch_of(size: int, length: int, answer: int | None, generator: torch.Generator) -> dict[str, torch.Tensor]:
    ids = torch.randint(10, 49000, (size, length), generator=generator)
    labels = ids.clone()
    if answer is not None:
        labels[:, : length - answer] = IGNORE
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


def step_seconds(model, batch, loss_fn, optimizer) -> float:
    start = time.perf_counter()
    loss_fn(model, batch).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=30)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    configure_runtime()
    torch.manual_seed(0)
    model = LlamaForCausalLM(smollm2_shape(args.layers))
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=[
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    variants = {
        "model(**batch).loss [baseline]": (lambda m, b: m(**b).loss, False),
        "scored_loss": (scored_loss, False),
        "scored_loss + checkpointing": (scored_loss, True),
    }
    print(f"CPU: {cpu_description()}; torch threads {torch.get_num_threads()}; fp32; "
          f"{args.layers} layers, batch {args.batch} x {args.length} tokens, LoRA r=16 on attention + MLP")
    for layout, answer in (("answer only (10 scored)", 10), ("whole sequence scored", None)):
        batch = batch_of(args.batch, args.length, answer, generator)
        medians = {}
        for name, (loss_fn, checkpointing) in variants.items():
            if checkpointing:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            else:
                model.gradient_checkpointing_disable()
            model.train()
            step_seconds(model, batch, loss_fn, optimizer)  # warm up allocations
            times = [step_seconds(model, batch, loss_fn, optimizer) for _ in range(args.repeats)]
            medians[name] = statistics.median(times)
        base = medians["model(**batch).loss [baseline]"]
        tokens = args.batch * args.length
        for name, seconds in medians.items():
            print(f"{layout:26s} {name:32s} {seconds:6.2f} s/step  {tokens / seconds:7.0f} tokens/s  "
                  f"ratio to baseline {base / seconds:.2f}x")


if __name__ == "__main__":
    main()
