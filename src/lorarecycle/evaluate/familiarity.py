"""Familiarity measured, not assumed: what the base model knows about each entity before
any training.

Two scores per name, both mean log-probabilities per token under the base model:
  name_logprob  the name after a neutral context ("Question: Who is"), so a name the
                model has seen often scores high and an invented one low;
  rest_logprob  the words after the first, given the first ("Barack" -> "Obama"): the
                completion of a known name, None for one-word names.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedTokenizerBase

from ..model.precision import autocast
from ..model.prompting import encode
from ..train.trainer import collate

CONTEXT = "Question: Who is"


def _token_logprobs(model, tokenizer, sequences: list[list[int]], batch_size: int) -> list[list[float]]:
    """log p(token_t | tokens_<t) for t >= 1 of each id sequence."""
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(sequences), batch_size):
        chunk = sequences[i : i + batch_size]
        batch = collate([(s, s) for s in chunk], tokenizer.pad_token_id)  # right-padded, with its mask
        ids = batch["input_ids"]
        with autocast(device):
            logits = model(input_ids=ids.to(device), attention_mask=batch["attention_mask"].to(device)).logits.float()
        logp = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None].to(device))[..., 0].cpu()
        out += [logp[j, : len(s) - 1].tolist() for j, s in enumerate(chunk)]
    return out


@torch.no_grad()
def name_scores(model, tokenizer: PreTrainedTokenizerBase, names: Sequence[str], batch_size: int = 64) -> list[dict]:
    context = encode(tokenizer, CONTEXT)["input_ids"]
    full = [encode(tokenizer, f"{CONTEXT} {n}")["input_ids"] for n in names]
    first = [encode(tokenizer, f"{CONTEXT} {n.split()[0]}")["input_ids"] for n in names]
    logps = _token_logprobs(model, tokenizer, full, batch_size)
    rows = []
    for name, ids, head, lp in zip(names, full, first, logps):
        name_lp = lp[len(context) - 1 :]  # logps[k] scores token k + 1
        rest_ok = len(name.split()) > 1 and ids[: len(head)] == head and len(ids) > len(head)
        rest_lp = lp[len(head) - 1 :] if rest_ok else None
        rows.append({"name": name, "tokens": len(ids) - len(context),
                     "name_logprob": sum(name_lp) / len(name_lp),
                     "rest_logprob": sum(rest_lp) / len(rest_lp) if rest_lp else None})
    return rows


def summarize_familiarity(rows: Sequence[dict]) -> list[dict]:
    """Mean scores per (role, familiar-by-design) group."""
    groups: dict[tuple[str, bool], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["role"], r["familiar"]), []).append(r)
    out = []
    for (role, familiar), members in sorted(groups.items()):
        rest = [m["rest_logprob"] for m in members if m["rest_logprob"] is not None]
        out.append({"role": role, "familiar": familiar, "n": len(members),
                    "name_logprob": sum(m["name_logprob"] for m in members) / len(members),
                    "rest_logprob": sum(rest) / len(rest) if rest else None})
    return out
