"""Batched greedy decoding with KV cache (HF `generate`), in the run's precision."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedTokenizerBase

from ..model.device import free_memory_bytes
from ..model.precision import autocast
from ..model.prompting import encode


MAX_BATCH = {"cuda": 1024, "cpu": 128}  # CPU decoding is compute-bound well before memory runs out


def auto_batch_size(model: torch.nn.Module, max_length: int, memory_fraction: float = 0.5) -> int:
    """Sequences per batch that fit in `memory_fraction` of the device's free memory:
    per sequence, the KV cache, a prefill's activations and the last-token logits."""
    param = next(model.parameters())
    config = getattr(model, "config", None) or model.model.config
    get = lambda *names, default=None: next((getattr(config, n) for n in names if getattr(config, n, None)), default)  # noqa: E731
    hidden, layers = get("hidden_size", "n_embd"), get("num_hidden_layers", "n_layer")
    heads = get("num_attention_heads", "n_head")
    kv_dim = hidden * get("num_key_value_heads", default=heads) // heads
    ffn = get("intermediate_size", "n_inner", default=4 * hidden)
    width = param.element_size()
    per_sequence = (2 * layers * kv_dim * max_length * width + max_length * (6 * hidden + 3 * ffn) * width
                    + get("vocab_size") * 4)
    fits = int(memory_fraction * free_memory_bytes(param.device) / per_sequence)
    return max(1, min(MAX_BATCH.get(param.device.type, 128), fits))


def stop_token_ids(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """The tokenizer's EOS plus the model's own stop tokens (an instruct model's end of turn)."""
    config = getattr(model, "generation_config", None) or getattr(getattr(model, "model", None), "generation_config", None)
    ids = getattr(config, "eos_token_id", None)
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    return list(dict.fromkeys([tokenizer.eos_token_id, *ids]))


@torch.no_grad()
def greedy_decode(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int,
    stop: Sequence[str] = (),
) -> list[str]:
    """Greedy continuations of `prompts` (left-padded batches of at most `batch_size`, stops
    at EOS, and at any of the `stop` strings, which the text is cut before). Batches are made
    equal (150 prompts at 128: 75 + 75, not 128 + 22): a small last batch costs nearly as
    many decoding steps as a full one."""
    device = next(model.parameters()).device
    outputs: list[str] = []
    batch_size = -(-len(prompts) // -(-len(prompts) // batch_size)) if prompts else batch_size
    for i in range(0, len(prompts), batch_size):
        batch = encode(tokenizer, prompts[i : i + batch_size], return_tensors="pt", padding=True).to(device)
        with autocast(device):
            generated = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                use_cache=True,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=stop_token_ids(model, tokenizer),
                **({"stop_strings": list(stop), "tokenizer": tokenizer} if stop else {}),
            )
        new_tokens = generated[:, batch["input_ids"].shape[1] :]
        outputs += tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
    return [cut_at(text, stop) for text in outputs]


def cut_at(text: str, stop: Sequence[str]) -> str:
    """`text` up to the first occurrence of any stop string."""
    return text[: min((i for s in stop if (i := text.find(s)) >= 0), default=len(text))]
