"""Generation-free scoring: batched continuation log-likelihoods equal one-at-a-time
references, choices are fixed per example, and budgets follow the tokenizer."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM

from lorarecycle.evaluate.evaluator import token_budget
from lorarecycle.evaluate.loglik import choices_for, continuation_logprobs, rank_answers, substitute
from lorarecycle.model.load import load_tokenizer
from lorarecycle.tasks.example import Example


def example(i: int, answer: str) -> Example:
    return Example(f"q{i}", "direct", f"The mentor of Zo{'ra' * (i % 3)} Vi is", f" {answer}.", answer)


def reference_logprob(model, tokenizer, prompt: str, continuation: str) -> float:
    """One sequence, no padding: sum of log p(token | everything before it) over the continuation."""
    p = tokenizer(prompt)["input_ids"]
    c = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([p + c])
    logprobs = torch.log_softmax(model(input_ids=ids).logits[0, :-1].double(), dim=-1)
    return float(sum(logprobs[len(p) - 1 + j, t] for j, t in enumerate(c)))


def test_batched_continuation_logprobs_match_one_at_a_time(tiny_base):
    model = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    tokenizer = load_tokenizer(tiny_base)
    pairs = [("The mentor of Zo Vi is", " Ra Ka."), ("The employer of Zorara Vivi Ka is", " Mo."),
             ("The mentor of", " Zora Vi Kaka Momo."), ("Who", " is the mentor of Ra?")]
    with torch.no_grad():
        expected = [reference_logprob(model, tokenizer, p, c) for p, c in pairs]
        for batch_size in (1, 3, 4):  # padding differs per batch: the scores must not
            got = continuation_logprobs(model, tokenizer, pairs, batch_size)
            assert torch.allclose(torch.tensor(got, dtype=torch.float64), torch.tensor(expected, dtype=torch.float64), atol=1e-4), (got, expected)


def test_choices_are_fixed_per_example_gold_first_and_distinct():
    answers = ["Ra Ka", "Mo Vi", "Zo Zo", "Ki Ra", "Mo Vi"]
    ex = example(0, "Ra Ka")
    choices = choices_for(ex, answers, 3)
    assert choices[0] == "Ra Ka" and len(choices) == len(set(choices)) == 3
    assert choices == choices_for(ex, list(reversed(answers)), 3)  # same choices whatever the order
    assert len(choices_for(ex, answers, 10)) == 4  # capped at the distinct answers
    assert substitute(ex, "Mo Vi") == " Mo Vi."


def test_rank_is_one_exactly_when_the_gold_continuation_is_most_likely(tiny_base):
    model = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    tokenizer = load_tokenizer(tiny_base)
    examples = [example(i, a) for i, a in enumerate(["Ra Ka", "Mo Vi", "Zo Zo", "Ki Ra"])]
    ranks = rank_answers(model, tokenizer, examples, 3, batch_size=5)
    for ex, rank in zip(examples, ranks):
        choices = choices_for(ex, [e.answer for e in examples], 3)
        with torch.no_grad():
            scores = [reference_logprob(model, tokenizer, ex.prompt, substitute(ex, c)) for c in choices]
        # the reference ranks the same way up to float rounding between batched and single passes
        assert 1 + sum(s > scores[0] + 1e-4 for s in scores[1:]) <= rank <= 1 + sum(s >= scores[0] - 1e-4 for s in scores[1:])


def test_auto_budget_follows_the_tokenizer(tiny_base):
    tokenizer = load_tokenizer(tiny_base)
    examples = [example(0, "Ra Ka"), example(1, "Zorara Vivi Kaka Momo")]
    longest = max(len(tokenizer(e.completion, add_special_tokens=False)["input_ids"]) for e in examples)
    assert token_budget("auto", tokenizer, examples) == longest + longest // 4 + 8
    assert token_budget(12, tokenizer, examples) == 12
