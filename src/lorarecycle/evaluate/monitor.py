"""Held-out checks while an adapter learns new knowledge: training stops on what the
model can do, not on a training-loss threshold.

recall     exact match on a fixed sample of its own examples (the stop criterion); with
           one sample per training set the checks are `recall:<set>`, and each must reach it
retention  exact match on pretraining facts it never trains on (forgetting facts)
control    exact match on held-out two-hop CoT questions over pretraining facts
           (forgetting the procedure)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..config import EvalSpec
from ..tasks.example import Example
from ..tasks.text import extract_answer, normalize
from .decode import greedy_decode
from .evaluator import token_budget

# the checks by kind (named like the splits they sample) and their sample sizes
RECALL, RETENTION, CONTROL = "recall", "retention", "control"
SAMPLE = {RECALL: 64, RETENTION: 48, CONTROL: 32}


def exact_match(model, tokenizer, examples: Sequence[Example], spec: EvalSpec) -> float:
    correct = 0
    for kind in dict.fromkeys(ex.kind for ex in examples):
        group = [ex for ex in examples if ex.kind == kind]
        budget = token_budget(spec.max_new_tokens_cot if kind == "cot" else spec.max_new_tokens_direct, tokenizer, group)
        generations = greedy_decode(model, tokenizer, [ex.prompt for ex in group], budget, len(group))
        correct += sum(extract_answer(g, kind) == normalize(ex.answer) for g, ex in zip(generations, group))
    return correct / len(examples)


@dataclass(frozen=True)
class HeldOutMonitor:
    checks: dict[str, tuple[Example, ...]]  # name -> fixed sample (see SAMPLE)
    target: float | None  # stop once recall reaches it
    every: int  # epochs between checks
    eval_spec: EvalSpec

    def due(self, epoch: int, epochs: int) -> bool:
        return epoch % self.every == 0 or epoch == epochs

    def __call__(self, model, tokenizer) -> tuple[bool, dict]:
        metrics = {name: round(exact_match(model, tokenizer, exs, self.eval_spec), 4)
                   for name, exs in self.checks.items() if exs}
        recall = [v for k, v in metrics.items() if k == RECALL or k.startswith(f"{RECALL}:")]
        return self.target is not None and bool(recall) and min(recall) >= self.target, metrics
