"""LoRA target modules resolved by architecture (`lora.target_modules: auto`), checked
against the model's own linear layers so a wrong name fails before any training."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, PretrainedConfig, PreTrainedModel
from transformers.pytorch_utils import Conv1D

from ..errors import UserError

_LLAMA_LIKE = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

# Every linear layer of attention and MLP (the LoRA setting of the paper's experts), by
# `config.model_type`. Output embeddings are never adapted.
ARCHITECTURE_TARGETS: dict[str, tuple[str, ...]] = {
    **{t: _LLAMA_LIKE for t in ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text",
                                "olmo", "olmo2", "granite", "smollm3")},
    "phi": ("q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"),
    "phi3": ("qkv_proj", "o_proj", "gate_up_proj", "down_proj"),
    "gpt2": ("c_attn", "c_proj", "c_fc"),  # transformers' Conv1D layers; PEFT sets fan_in_fan_out
}

ADAPTABLE = (nn.Linear, Conv1D)


def linear_layer_paths(model: nn.Module) -> list[str]:
    """Full name of every adaptable linear layer, output embeddings excluded."""
    head = model.get_output_embeddings() if isinstance(model, PreTrainedModel) else None
    return [name for name, module in model.named_modules() if isinstance(module, ADAPTABLE) and module is not head]


def linear_layer_names(model: nn.Module) -> set[str]:
    """Last name component of every adaptable linear layer."""
    return {name.rsplit(".", 1)[-1] for name in linear_layer_paths(model)}


def resolve_target_modules(model: nn.Module, requested: Sequence[str] | str) -> list[str]:
    """The module names LoRA adapts: the architecture's table for "auto", else `requested`;
    every name must be one of the model's linear layers."""
    model_type = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
    available = linear_layer_names(model)
    if requested == "auto":
        if model_type not in ARCHITECTURE_TARGETS:
            raise UserError(f"lora.target_modules auto: no known LoRA target modules for model_type {model_type!r} "
                            f"(known: {', '.join(sorted(ARCHITECTURE_TARGETS))}); list some of its linear layers "
                            f"instead: {', '.join(sorted(available)) or 'none found'}")
        names = list(ARCHITECTURE_TARGETS[model_type])
    else:
        names = list(requested)
    paths = linear_layer_paths(model)
    # PEFT matches a name against the end of each module path ("q_proj", "self_attn.q_proj")
    missing = [n for n in names if not any(p == n or p.endswith(f".{n}") for p in paths)]
    if missing:
        raise UserError(f"lora.target_modules: {', '.join(missing)} not among the linear layers of this {model_type} "
                        f"model ({', '.join(sorted(available)) or 'none'})")
    return names


def skeleton(source: Path | PretrainedConfig) -> PreTrainedModel:
    """The module tree of a model directory (or config) on the meta device: no weights
    read, no memory used."""
    try:
        config = source if isinstance(source, PretrainedConfig) else AutoConfig.from_pretrained(source, trust_remote_code=False)
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as err:
        raise UserError(f"{source}: not a causal LM transformers can build without remote code "
                        f"({str(err).splitlines()[0]})") from None
