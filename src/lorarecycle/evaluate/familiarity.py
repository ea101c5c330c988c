"""Familiarity measured, not assumed: what the base model knows about each entity before
any training.

Two scores per name, both mean log-probabilities per token under the base model:
  name_logprob  the name where the task's text expects a name (two-hop: the subject of
                "Question: Who is the r2 of the r1 of ..."), so a name the model has seen
                there scores high and an invented one low;
  rest_logprob  the words after the first, given the first ("Barack" -> "Obama"): the
                completion of a known name, None for one-word names.
Each is read against two references measured the same way: uniform over the vocabulary
(-log V per token) and a group of names pretraining is known to hold (`reference`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from transformers import PreTrainedTokenizerBase

from ..model.precision import autocast
from ..model.prompting import encode
from ..model.batching import collate

CONTEXT = "Question: Who is"  # the default context: a name is expected next


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
def name_scores(model, tokenizer: PreTrainedTokenizerBase, names: Sequence[str], batch_size: int = 64,
                contexts: Sequence[str] | None = None) -> list[dict]:
    """Scores of each name after its context (default: CONTEXT for all)."""
    contexts = contexts or [CONTEXT] * len(names)
    full = [encode(tokenizer, f"{c} {n}")["input_ids"] for c, n in zip(contexts, names)]
    first = [encode(tokenizer, f"{c} {n.split()[0]}")["input_ids"] for c, n in zip(contexts, names)]
    logps = _token_logprobs(model, tokenizer, full, batch_size)
    rows = []
    for name, context, ids, head, lp in zip(names, contexts, full, first, logps):
        n_context = len(encode(tokenizer, context)["input_ids"])
        name_lp = lp[n_context - 1 :]  # logps[k] scores token k + 1
        rest_ok = len(name.split()) > 1 and ids[: len(head)] == head and len(ids) > len(head)
        rest_lp = lp[len(head) - 1 :] if rest_ok else None
        rows.append({"name": name, "tokens": len(ids) - n_context,
                     "name_logprob": sum(name_lp) / len(name_lp),
                     "rest_logprob": sum(rest_lp) / len(rest_lp) if rest_lp else None})
    return rows


def summarize_familiarity(rows: Sequence[dict], vocab_size: int | None = None) -> list[dict]:
    """Mean scores per (role, familiar-by-design) group, each with the uniform baseline."""
    groups: dict[tuple[str, bool], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["role"], r["familiar"]), []).append(r)
    out = []
    for (role, familiar), members in sorted(groups.items()):
        rest = [m["rest_logprob"] for m in members if m["rest_logprob"] is not None]
        out.append({"role": role, "familiar": familiar, "n": len(members),
                    "name_logprob": sum(m["name_logprob"] for m in members) / len(members),
                    "rest_logprob": sum(rest) / len(rest) if rest else None,
                    **({"uniform_logprob": -math.log(vocab_size)} if vocab_size else {})})
    return out
