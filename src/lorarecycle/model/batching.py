"""Examples to training tensors: prompt + completion + EOS token ids, loss labels, padding.

Shared by every stage that computes a loss on examples (training, LoraHub's search,
familiarity scoring), so it lives with the model, below all of them."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedTokenizerBase

from ..tasks.example import Example
from .prompting import encode

IGNORE = -100  # label of a position that carries no loss


def encode_example(tokenizer: PreTrainedTokenizerBase, ex: Example, loss_on_prompt: bool) -> tuple[list[int], list[int]]:
    """Token ids of prompt + completion + EOS, and labels (prompt masked unless `loss_on_prompt`;
    an example's own `loss_on_prompt`, where set, decides for it)."""
    prompt = encode(tokenizer, ex.prompt)["input_ids"]
    completion = tokenizer(ex.completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    on_prompt = loss_on_prompt if ex.loss_on_prompt is None else ex.loss_on_prompt
    labels = (prompt if on_prompt else [IGNORE] * len(prompt)) + completion
    return prompt + completion, labels


def collate(rows: Sequence[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (ids, lab) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(lab)] = torch.tensor(lab)
        mask[i, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask}
