"""Evaluate one model on one split: predictions, exact match, summary row."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence

import torch
from transformers import PreTrainedTokenizerBase

from ..config import EvalSpec
from ..tasks.example import Example
from ..tasks.text import extract_answer, normalize
from ..model.prompting import encode
from .decode import auto_batch_size, greedy_decode
from .loglik import rank_answers
from .metrics import ERROR_KINDS, classify_error, wilson_interval


def evaluate_split(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    spec: EvalSpec,
    entities: set[str],
    steps: Callable[[str], tuple[str, str, str]],
    stop: Sequence[str] = (),
) -> tuple[dict, list[dict]]:
    """Returns (summary, per-example rows). `entities` are normalised entity names;
    `steps`, the task's parser, reads (subject, first hop, second hop) from a chain-of-thought
    generation (no default: a two-hop parser would silently misread another task's steps).
    Decoding runs in the run's precision (`model.precision`) and ends at any `stop` string.
    The summary's "seconds" (generation, log-likelihood ranking) is wall time, not a result:
    the caller moves it out of the result row."""
    kind = examples[0].kind
    budget = token_budget(spec.max_new_tokens_cot if kind == "cot" else spec.max_new_tokens_direct, tokenizer, examples)
    prompts = [ex.prompt for ex in examples]
    batch_size = spec.batch_size
    if batch_size == "auto":
        longest = max(len(encode(tokenizer, p)["input_ids"]) for p in prompts) + budget
        batch_size = auto_batch_size(model, longest)
    started = time.perf_counter()
    generations = greedy_decode(model, tokenizer, prompts, budget, batch_size, stop)
    generated = time.perf_counter()
    ranked = rank_answers(model, tokenizer, examples, spec.loglik_choices, batch_size) if spec.loglik_choices else None
    seconds = {"generation": round(generated - started, 2), "loglik": round(time.perf_counter() - generated, 2)}
    ranks = ranked[0] if ranked else None
    samples, errors = [], Counter()
    for i, (ex, gen) in enumerate(zip(examples, generations)):
        pred = extract_answer(gen, ex.kind)
        correct = pred == normalize(ex.answer)
        row = {"id": ex.id, "generation": gen, "prediction": pred, "answer": ex.answer, "correct": correct,
               **({"chain": ex.chain, "exposed": ex.exposed} if ex.chain else {}),
               **({"loglik_rank": ranks[i]} if ranks else {})}
        if ex.bridge:
            if not correct:
                row["error"] = classify_error(pred, normalize(ex.bridge), entities)
                errors[row["error"]] += 1
            if ex.kind == "cot":
                row.update(score_steps(steps(gen), steps(ex.completion), ex.id))
        samples.append(row)
    n, correct = len(samples), sum(s["correct"] for s in samples)
    low, high = wilson_interval(correct, n)
    # chance: guessing uniformly among the split's distinct answers
    chance = 1 / len({normalize(ex.answer) for ex in examples})
    summary = {"n": n, "correct": correct, "accuracy": correct / n, "ci_low": low, "ci_high": high, "chance": chance,
               "seconds": seconds}
    if ranked:
        summary.update({"loglik_accuracy": sum(r == 1 for r in ranks) / n, "loglik_mean_rank": sum(ranks) / n,
                        "loglik_choices": ranked[1]})
    if examples[0].bridge:
        summary["errors"] = {k: errors[k] for k in ERROR_KINDS}
        if kind == "cot":
            summary.update(summarize_steps(samples))
    return summary, samples


def token_budget(budget: int | str, tokenizer: PreTrainedTokenizerBase, examples: Sequence[Example]) -> int:
    """A fixed budget, or (`auto`) the longest gold completion in this tokenizer's tokens plus
    a quarter and 8 tokens: a fictional name is 2 tokens here and 4-6 in a BPE vocabulary."""
    if budget != "auto":
        return int(budget)
    longest = max(len(tokenizer(ex.completion, add_special_tokens=False)["input_ids"]) for ex in examples)
    return longest + longest // 4 + 8


def score_steps(stated: tuple[str, str, str], gold: tuple[str, str, str], example_id: str = "") -> dict:
    """Each reasoning step of one chain-of-thought answer against the gold completion's, both
    read by the task's parser: the subject restated, the first hop (the bridge), the second
    hop (the answer, stated as the second step's object). Reading the gold text with the same
    parser lets a task's steps carry more than the entity (two-hop: the relation)."""
    if not all(gold):
        raise ValueError(f"example {example_id}: the task's step parser cannot read its gold completion ({gold})")
    subject, first, second = stated
    return {"subject_correct": subject == gold[0], "first_hop_correct": first == gold[1],
            "second_hop_correct": second == gold[2]}


def summarize_steps(samples: Sequence[dict]) -> dict:
    """Step-by-step accuracies; the second hop is scored given a right first hop (None when
    no first hop is right), so a failure is placed at the step where it happens."""
    n = len(samples)
    first = [s for s in samples if s["first_hop_correct"]]
    return {"subject_accuracy": sum(s["subject_correct"] for s in samples) / n,
            "first_hop_accuracy": len(first) / n,
            "second_hop_given_first": sum(s["second_hop_correct"] for s in first) / len(first) if first else None}
