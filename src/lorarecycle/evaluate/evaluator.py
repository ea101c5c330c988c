"""Evaluate one model on one split: predictions, exact match, summary row."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import torch
from transformers import PreTrainedTokenizerBase

from ..config import EvalSpec
from ..tasks.datasets import Example
from ..tasks.templates import extract_answer, extract_first_hop, normalize
from ..model.prompting import encode
from .decode import auto_batch_size, greedy_decode
from .metrics import ERROR_KINDS, classify_error, wilson_interval


def evaluate_split(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    spec: EvalSpec,
    entities: set[str],
    first_step: Callable[[str], str] = extract_first_hop,
) -> tuple[dict, list[dict]]:
    """Returns (summary, per-example rows). `entities` are normalised entity names.
    Decoding runs in the run's precision (`model.precision`)."""
    kind = examples[0].kind
    budget = spec.max_new_tokens_cot if kind == "cot" else spec.max_new_tokens_direct
    prompts = [ex.prompt for ex in examples]
    batch_size = spec.batch_size
    if batch_size == "auto":
        longest = max(len(encode(tokenizer, p)["input_ids"]) for p in prompts) + budget
        batch_size = auto_batch_size(model, longest)
    generations = greedy_decode(model, tokenizer, prompts, budget, batch_size)
    samples, errors = [], Counter()
    for ex, gen in zip(examples, generations):
        pred = extract_answer(gen, ex.kind)
        correct = pred == normalize(ex.answer)
        row = {"id": ex.id, "generation": gen, "prediction": pred, "answer": ex.answer, "correct": correct}
        if ex.bridge:
            if not correct:
                row["error"] = classify_error(pred, normalize(ex.bridge), entities)
                errors[row["error"]] += 1
            if ex.kind == "cot":
                row["first_hop_correct"] = first_step(gen) == normalize(ex.bridge)
        samples.append(row)
    n, correct = len(samples), sum(s["correct"] for s in samples)
    low, high = wilson_interval(correct, n)
    # chance: guessing uniformly among the split's distinct answers
    chance = 1 / len({normalize(ex.answer) for ex in examples})
    summary = {"n": n, "correct": correct, "accuracy": correct / n, "ci_low": low, "ci_high": high, "chance": chance}
    if examples[0].bridge:
        summary["errors"] = {k: errors[k] for k in ERROR_KINDS}
        if kind == "cot":
            summary["first_hop_accuracy"] = sum(s["first_hop_correct"] for s in samples) / n
    return summary, samples
