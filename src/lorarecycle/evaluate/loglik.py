"""Generation-free scoring: rank the gold answer among other answers of the same role by
the log-likelihood of the gold completion with each answer substituted in (lm-evaluation-
harness's multiple-choice scoring). It separates "knows the answer" from "writes it in our
format within the budget", which real instruct models often do not."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence

import torch
from transformers import PreTrainedTokenizerBase

from ..errors import UserError
from ..model.precision import autocast
from ..model.prompting import encode
from ..recycle.routing.model import RoutedModel
from ..seeding import make_rng
from ..tasks.example import Example
from ..tasks.text import normalize


def answer_pool(examples: Sequence[Example]) -> list[str]:
    """The split's distinct answers, sorted; one spelling per normalised answer (the first in
    sort order, so the pool does not depend on the order of the examples)."""
    spellings: dict[str, str] = {}
    for answer in sorted(ex.answer for ex in examples):
        spellings.setdefault(normalize(answer), answer)
    return sorted(spellings.values())


def choices_for(ex: Example, pool: Sequence[str], k: int) -> list[str]:
    """The gold answer first, then k - 1 other answers of the pool, drawn per example
    (seeded by its id, so every model is scored on the same choices)."""
    others = [a for a in pool if normalize(a) != normalize(ex.answer)]
    rng = make_rng(0, "loglik", ex.id)
    return [ex.answer, *rng.sample(others, min(k - 1, len(others)))]


def substitute(ex: Example, answer: str) -> str:
    """The gold completion with `answer` in place of the gold answer's last whole-word
    occurrence ("2" inside "12" is not it). In a chain of thought every occurrence is
    replaced ("... the employer of B is X. So the answer is X."): the text stays consistent,
    and the ranking asks for the second hop given the gold first hop, not for a copy of the
    answer from earlier in the completion."""
    found = list(re.finditer(rf"(?<!\w){re.escape(ex.answer)}(?!\w)", ex.completion))
    if ex.kind == "cot":  # "Disney" inside a bridge "Walt Disney" is the bridge, not the answer
        kept = [m.span() for name in (ex.subject, ex.bridge) if name
                for m in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", ex.completion)]
        found = [m for m in found if not any(a <= m.start() and m.end() <= b for a, b in kept)] or found
    if not found:
        raise UserError(f"example {ex.id}: its answer {ex.answer!r} is not a word of its completion; "
                        "cannot rank answers by log-likelihood (set eval.loglik_choices: 0)")
    out, end = [], len(ex.completion)
    for match in reversed(found if ex.kind == "cot" else found[-1:]):
        out.append(answer + ex.completion[match.end():end])
        end = match.start()
    return ex.completion[:end] + "".join(reversed(out))


@torch.no_grad()
def continuation_logprobs(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, pairs: Sequence[tuple[str, str]],
                          batch_size: int) -> list[float]:
    """Sum of log p(continuation tokens | prompt) for each (prompt, continuation). Prompt and
    continuation are tokenized apart (a BPE merge across the seam would otherwise move the
    boundary); batches are left-padded so every continuation ends at the last position and
    only the last positions' logits are computed (`logits_to_keep`)."""
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id
    out: list[float] = []
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        prompts = encode(tokenizer, [p for p, _ in chunk])["input_ids"]
        conts = [tokenizer(c, add_special_tokens=False)["input_ids"] for _, c in chunk]
        seqs = [p + c for p, c in zip(prompts, conts)]
        width, keep = max(map(len, seqs)), max(map(len, conts)) + 1
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        prompt_mask = torch.zeros_like(ids)
        for row, (seq, prompt) in enumerate(zip(seqs, prompts)):
            ids[row, width - len(seq):] = torch.tensor(seq)
            mask[row, width - len(seq):] = 1
            prompt_mask[row, width - len(seq): width - len(seq) + len(prompt)] = 1
        ids, mask, prompt_mask = ids.to(device), mask.to(device), prompt_mask.to(device)
        positions = (mask.cumsum(-1) - 1).clamp_min(0)
        kwargs = {"attention_mask": mask, "position_ids": positions, "logits_to_keep": keep}
        with autocast(device):
            if isinstance(model, RoutedModel):  # route as generation would
                logits = model.score(ids, prompt_mask=prompt_mask, **kwargs).logits
            else:
                logits = model(input_ids=ids, **kwargs).logits
        logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # predicts positions width-keep+1 ..
        targets = ids[:, width - keep + 1:]
        token_lp = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        for row, cont in enumerate(conts):
            out.append(float(token_lp[row, keep - 1 - len(cont):].sum()))
    return out


def rank_answers(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, examples: Sequence[Example], k: int,
                 batch_size: int) -> tuple[list[int], int] | None:
    """(the gold answer's rank per example, 1 = most likely; the number of choices), ties
    counting against the gold answer; None when the split has fewer than 2 distinct answers."""
    pool = answer_pool(examples)
    if len(pool) < 2:
        return None
    choices = [choices_for(ex, pool, k) for ex in examples]
    continuations = [[substitute(ex, c) for c in cs] for ex, cs in zip(examples, choices)]
    scores = shared_prompt_logprobs(model, tokenizer, [ex.prompt for ex in examples], continuations, batch_size)
    return [1 + sum(x >= s[0] for x in s[1:]) for s in scores], min(k, len(pool))


@torch.no_grad()
def shared_prompt_logprobs(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
                           continuations: Sequence[Sequence[str]], batch_size: int,
                           share_prefixes: bool = True) -> list[list[float]]:
    """For each prompt, the summed log p(continuation | prompt) of each of its continuations,
    reading the prompt once, then the tokens its continuations share once (k answers
    substituted into one chain of thought differ from the first answer on), then each
    continuation's own tail from the repeated KV cache: the same scores as
    `continuation_logprobs` up to float rounding (tested). Prompts are left-padded, the
    shared parts and the tails right-padded after them. A routed model routes as in
    generation: a selector's choice, made on the prompt pass, holds for what follows.
    `share_prefixes=False` reads every continuation whole (the benchmark's baseline)."""
    device = next(model.parameters()).device
    pad, out = tokenizer.pad_token_id, []
    per_chunk = max(1, batch_size // max(1, max(map(len, continuations), default=1)))
    for i in range(0, len(prompts), per_chunk):
        chunk, conts = prompts[i : i + per_chunk], continuations[i : i + per_chunk]
        prompt_ids = encode(tokenizer, list(chunk))["input_ids"]
        tokens = [[tokenizer(c, add_special_tokens=False)["input_ids"] for c in cs] for cs in conts]
        shared = [ts[0][:_shared_length(ts)] if share_prefixes else [] for ts in tokens]
        width = max(map(len, prompt_ids))
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, p in enumerate(prompt_ids):
            ids[row, width - len(p):], mask[row, width - len(p):] = torch.tensor(p), 1
        ids, mask = ids.to(device), mask.to(device)
        with autocast(device), _routed(model, ids, mask) as chosen:
            first = model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp_min(0),
                          use_cache=True, logits_to_keep=1)
        cache, last = first.past_key_values, first.logits[:, -1]  # `last` predicts each row's next token
        shared_lp = torch.zeros(len(chunk), device=device)
        if any(shared):
            shared_ids, shared_mask = _right_padded(shared, pad, device)
            with autocast(device), _routed(model, None, None, chosen):
                logits = model(input_ids=shared_ids, attention_mask=torch.cat([mask, shared_mask], dim=-1),
                               position_ids=mask.sum(-1, keepdim=True) + torch.arange(shared_ids.shape[1], device=device),
                               cache=cache, use_cache=True).logits
            # shared token j is predicted by the prompt's last position (j = 0) or shared position j - 1
            logprobs = torch.log_softmax(torch.cat([last[:, None], logits[:, :-1]], dim=1).float(), dim=-1)
            shared_lp = (logprobs.gather(-1, shared_ids.unsqueeze(-1)).squeeze(-1) * shared_mask).sum(-1)
            lengths = torch.tensor([len(t) for t in shared], device=device)
            last = torch.where((lengths > 0)[:, None], logits[torch.arange(len(chunk)), (lengths - 1).clamp_min(0)],
                               last)
            mask = torch.cat([mask, shared_mask], dim=-1)
        counts = [len(cs) for cs in conts]
        owner = torch.tensor([row for row, n in enumerate(counts) for _ in range(n)], device=device)
        cache.batch_select_indices(owner)  # row r of the chunk once per continuation of prompt r
        tails = [t[len(s):] for ts, s in zip(tokens, shared) for t in ts]
        cont, cont_mask = _right_padded(tails, pad, device)
        positions = mask.sum(-1)[owner, None] + torch.arange(cont.shape[1], device=device)
        with autocast(device), _routed(model, None, None, None if chosen is None else chosen[owner]):
            logits = model(input_ids=cont, attention_mask=torch.cat([mask[owner], cont_mask], dim=-1),
                           position_ids=positions, cache=cache, use_cache=True).logits
        # position j of the tail predicts its token j + 1; what came before it predicts token 0
        logprobs = torch.log_softmax(torch.cat([last[owner, None], logits[:, :-1]], dim=1).float(), dim=-1)
        token_lp = ((logprobs.gather(-1, cont.unsqueeze(-1)).squeeze(-1) * cont_mask).sum(-1)
                    + shared_lp[owner]).tolist()
        flat = iter(token_lp)
        out += [[next(flat) for _ in range(n)] for n in counts]
    return out


def _shared_length(sequences: Sequence[Sequence[int]]) -> int:
    """Tokens every sequence starts with, leaving each at least one of its own."""
    shortest = min(map(len, sequences))
    length = 0
    while length < shortest - 1 and all(s[length] == sequences[0][length] for s in sequences):
        length += 1
    return length


def _right_padded(sequences: Sequence[Sequence[int]], pad: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.full((len(sequences), max(1, max(map(len, sequences)))), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)], mask[row, : len(seq)] = torch.tensor(seq, dtype=torch.long), 1
    return ids.to(device), mask.to(device)


def _routed(model: torch.nn.Module, ids: torch.Tensor | None, mask: torch.Tensor | None,
            weights: torch.Tensor | None = None) -> contextlib.AbstractContextManager:
    if isinstance(model, RoutedModel):
        return model.routed_as_prompted(ids, mask, weights)
    return contextlib.nullcontext()
