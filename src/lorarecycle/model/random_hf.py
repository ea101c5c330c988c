"""Randomly initialised Hugging Face causal LMs of real architectures, saved as local
directories with a byte-level BPE tokenizer trained on given text.

They stand in for real checkpoints where none can be downloaded: the tests run the whole
pipeline through `--base-model` on each architecture, and a model with a real model's
shapes measures what a run on that model costs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (AutoModelForCausalLM, GPT2Config, LlamaConfig, OPTConfig, PretrainedConfig,
                          PreTrainedTokenizerFast, Qwen2Config)

from ..errors import UserError

# ChatML, as Qwen2 instruct models ship it (our own minimal rendering).
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

# (hidden, layers, heads, kv heads, intermediate, vocab or None = the tokenizer's)
SHAPES = {
    "tiny": (32, 2, 2, 1, 64, None),
    "smol": (576, 30, 9, 3, 1536, 49152),  # SmolLM-135M's shapes
}


def _llama(v, d, n, h, kv, f, ids) -> PretrainedConfig:
    return LlamaConfig(vocab_size=v, hidden_size=d, num_hidden_layers=n, num_attention_heads=h, num_key_value_heads=kv,
                       intermediate_size=f, max_position_embeddings=512, tie_word_embeddings=True, **ids)


def _qwen2(v, d, n, h, kv, f, ids) -> PretrainedConfig:
    return Qwen2Config(vocab_size=v, hidden_size=d, num_hidden_layers=n, num_attention_heads=h, num_key_value_heads=kv,
                       intermediate_size=f, max_position_embeddings=512, tie_word_embeddings=True, **ids)


def _gpt2(v, d, n, h, kv, f, ids) -> PretrainedConfig:
    return GPT2Config(vocab_size=v, n_embd=d, n_layer=n, n_head=h, n_inner=f, n_positions=512,
                      bos_token_id=ids["bos_token_id"], eos_token_id=ids["eos_token_id"])


def _opt(v, d, n, h, kv, f, ids) -> PretrainedConfig:
    return OPTConfig(vocab_size=v, hidden_size=d, num_hidden_layers=n, num_attention_heads=h, ffn_dim=f,
                     word_embed_proj_dim=d, max_position_embeddings=512, **ids)


# architecture -> (config factory, special tokens (bos, eos, pad), chat template or None)
ARCHITECTURES: dict[str, tuple[Callable, tuple[str, str, str | None], str | None]] = {
    "llama": (_llama, ("<s>", "</s>", None), None),
    "qwen2": (_qwen2, ("<|endoftext|>", "<|im_end|>", "<|endoftext|>"), CHATML),
    "gpt2": (_gpt2, ("<|endoftext|>", "<|endoftext|>", None), None),
    "opt": (_opt, ("</s>", "</s>", "<pad>"), None),  # an architecture with no built-in LoRA targets
}


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int, specials: tuple[str, str, str | None],
                        add_bos: bool, chat_template: str | None) -> PreTrainedTokenizerFast:
    bos, eos, pad = specials
    extra = ["<|im_start|>"] if chat_template else []
    special = list(dict.fromkeys([bos, eos, *([pad] if pad else []), *extra]))
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    if add_bos:
        core.post_processor = processors.TemplateProcessing(single=f"{bos} $A", special_tokens=[(bos, core.token_to_id(bos))])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token=bos, eos_token=eos, pad_token=pad,
                                        unk_token=None, additional_special_tokens=extra or None)
    if chat_template:
        tokenizer.chat_template = chat_template
    return tokenizer


def build_random_causal_lm(arch: str, out: Path, texts: Iterable[str], shape: str = "tiny", seed: int = 0,
                           vocab_size: int = 600) -> Path:
    """Save a randomly initialised `arch` model and its tokenizer to `out`."""
    if arch not in ARCHITECTURES:
        raise UserError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    factory, specials, chat_template = ARCHITECTURES[arch]
    tokenizer = train_bpe_tokenizer(texts, vocab_size, specials, add_bos=arch == "llama", chat_template=chat_template)
    d, n, h, kv, f, vocab = SHAPES[shape]
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
           "pad_token_id": tokenizer.pad_token_id}
    config = factory(max(vocab or 0, len(tokenizer)), d, n, h, kv, f, ids)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    out = Path(out)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out
