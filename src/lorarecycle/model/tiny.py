"""The built-in tiny Llama-style model, initialised from a seed."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedModel, PreTrainedTokenizerFast

from ..config import ModelSpec


def tiny_llama_config(spec: ModelSpec, tokenizer: PreTrainedTokenizerFast | None) -> LlamaConfig:
    """The architecture for `tokenizer`'s vocabulary (None: a placeholder vocabulary, enough
    to check module names before anything is trained)."""
    return LlamaConfig(
        vocab_size=len(tokenizer) if tokenizer is not None else 8,
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_heads,
        max_position_embeddings=spec.max_positions,
        bos_token_id=getattr(tokenizer, "bos_token_id", None),
        eos_token_id=getattr(tokenizer, "eos_token_id", None),
        pad_token_id=getattr(tokenizer, "pad_token_id", None),
        tie_word_embeddings=True,
    )


def build_tiny_llama(spec: ModelSpec, tokenizer: PreTrainedTokenizerFast, seed: int) -> PreTrainedModel:
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(tiny_llama_config(spec, tokenizer), attn_implementation="sdpa",
                                            dtype=torch.float32)
