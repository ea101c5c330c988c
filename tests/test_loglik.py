"""Generation-free scoring: batched continuation log-likelihoods equal one-at-a-time
references, choices are fixed per example, and budgets follow the tokenizer."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from lorarecycle.evaluate.evaluator import token_budget
from lorarecycle.errors import UserError
from lorarecycle.evaluate.loglik import answer_pool, choices_for, continuation_logprobs, rank_answers, substitute
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
    examples = [example(i, a) for i, a in enumerate(["Ra Ka", "Mo Vi", "Zo Zo", "Ki Ra", "mo vi."])]
    pool = answer_pool(examples)
    assert len(pool) == 4  # "Mo Vi" and "mo vi." are one answer
    ex = examples[0]
    choices = choices_for(ex, pool, 3)
    assert choices[0] == "Ra Ka" and len(choices) == len(set(choices)) == 3
    assert choices == choices_for(ex, answer_pool(list(reversed(examples))), 3)  # whatever the order
    assert len(choices_for(ex, pool, 10)) == 4  # capped at the distinct answers
    assert substitute(ex, "Mo Vi") == " Mo Vi."


def test_substitution_replaces_the_whole_answer_and_refuses_a_missing_one():
    ex = Example("m", "direct", "How many coins do 12 bags cost?", " 2 bags cost 12 coins.", "12")
    assert substitute(ex, "7") == " 2 bags cost 7 coins."  # not the "2" of "12", not "2 bags"
    # a chain of thought: every occurrence, so the text stays consistent; the bridge stays
    cot = Example("c", "cot", "Question: Who is the employer of the mentor of Vize Zoli? Reasoning:",
                  " The mentor of Vize Zoli is Bove Saru. The employer of Bove Saru is Kato Rimu. So the answer is Kato Rimu.",
                  "Kato Rimu", bridge="Bove Saru")
    assert substitute(cot, "Mo Vi") == (" The mentor of Vize Zoli is Bove Saru. The employer of Bove Saru is Mo Vi."
                                        " So the answer is Mo Vi.")
    # a real answer that is a word of the bridge's name ("Disney" in "Walt Disney") stays in the bridge
    walt = Example("w", "cot", "Question: Who is the employer of the mentor of Ada Lovelace? Reasoning:",
                   " The mentor of Ada Lovelace is Walt Disney. The employer of Walt Disney is Disney. So the answer is Disney.",
                   "Disney", bridge="Walt Disney", subject="Ada Lovelace")
    assert substitute(walt, "Honda") == (" The mentor of Ada Lovelace is Walt Disney. The employer of Walt Disney is"
                                         " Honda. So the answer is Honda.")
    with pytest.raises(UserError, match="example q0: its answer 'Ki Ra' is not a word of its completion"):
        substitute(Example("q0", "direct", "p", " Ra Ka.", "Ki Ra"), "Mo")


def test_rank_is_one_exactly_when_the_gold_continuation_is_most_likely(tiny_base):
    model = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    tokenizer = load_tokenizer(tiny_base)
    examples = [example(i, a) for i, a in enumerate(["Ra Ka", "Mo Vi", "Zo Zo", "Ki Ra"])]
    ranks, k = rank_answers(model, tokenizer, examples, 3, batch_size=5)
    assert k == 3 and rank_answers(model, tokenizer, examples[:1], 3, batch_size=5) is None  # one answer: no ranking
    for ex, rank in zip(examples, ranks):
        choices = choices_for(ex, answer_pool(examples), 3)
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


def test_a_prompt_read_once_scores_its_continuations_as_one_sequence_each(tiny_base):
    """The shared-prompt path (the prompt's KV cache repeated per continuation) gives the
    one-sequence-at-a-time reference's scores, whatever the batching and padding."""
    from lorarecycle.evaluate.loglik import shared_prompt_logprobs

    model = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    tokenizer = load_tokenizer(tiny_base)
    prompts = ["The mentor of Zo Vi is", "The employer of Zorara Vivi Ka is", "Who", "Why"]
    # continuations that share their first tokens (answers substituted into one chain of
    # thought), one a prefix of another, and none shared
    continuations = [[" Ra Ka. The employer of Ra Ka is Mo.", " Ra Ka. The employer of Ra Ka is Vi Ki."],
                     [" Zora Vi Kaka Momo.", " Zora Vi Kaka Momo. So Ki.", " Zora Vi."],
                     [" is the mentor of Ra?", " Vi."], [" Ka.", " Ka."]]
    with torch.no_grad():
        expected = [[reference_logprob(model, tokenizer, p, c) for c in cs] for p, cs in zip(prompts, continuations)]
        for batch_size in (1, 2, 4, 6):
            got = shared_prompt_logprobs(model, tokenizer, prompts, continuations, batch_size)
            assert [len(g) for g in got] == [len(e) for e in expected]
            assert torch.allclose(torch.tensor([x for g in got for x in g], dtype=torch.float64),
                                  torch.tensor([x for e in expected for x in e], dtype=torch.float64),
                                  atol=1e-4), (batch_size, got, expected)


@pytest.mark.parametrize("routing", ["token", "select"])
def test_a_routed_model_reads_each_prompt_once_and_routes_as_per_pair_scoring(tiny_base, tmp_path, routing):
    """Arrow per token, and a per-query selector whose choice, made on the prompt, holds for
    every continuation: the shared-prompt scores equal the one-pass-per-(prompt, continuation)
    path (`RoutedModel.score`, the selector reading the prompt tokens only)."""
    from lorarecycle.evaluate.loglik import shared_prompt_logprobs
    from lorarecycle.recycle.routing.layer import Router
    from lorarecycle.recycle.routing.model import arrow_selector, build_routed_model

    from .helpers import make_peft_adapter

    library = [make_peft_adapter(tiny_base, tmp_path / f"e{i}", seed=40 + i) and tmp_path / f"e{i}" for i in range(3)]
    model = build_routed_model(AutoModelForCausalLM.from_pretrained(tiny_base).eval(), library, ["a", "b", "c"],
                               Router(3, "token", top_k=1),
                               selector=arrow_selector("select") if routing == "select" else None)
    tokenizer = load_tokenizer(tiny_base)
    prompts = ["The mentor of Zo Vi is", "The employer of Zorara Vivi Ka is", "Who", "mentor of mentor is"]
    continuations = [[" Ra Ka. So Mo.", " Ra Ka. So Vi Vi."], [" Zora Vi Kaka Momo.", " Ki."],
                     [" is the mentor of Ra?", " Vi."], [" Ka Ka.", " Ka Ka Zo."]]
    pairs = [(p, c) for p, cs in zip(prompts, continuations) for c in cs]
    with torch.no_grad():
        expected = torch.tensor(continuation_logprobs(model, tokenizer, pairs, 1), dtype=torch.float64)
        for batch_size in (2, 8):
            got = shared_prompt_logprobs(model, tokenizer, prompts, continuations, batch_size)
            assert torch.allclose(torch.tensor([x for row in got for x in row], dtype=torch.float64), expected,
                                  atol=1e-4), (batch_size, got, expected)
    if routing == "select":  # the selector chose per query: the prompts did not all go to one expert
        enc = tokenizer(prompts, return_tensors="pt", padding=True)
        with torch.no_grad(), model.routed_as_prompted(enc["input_ids"], enc["attention_mask"]) as weights:
            assert len(set(weights.argmax(-1).tolist())) > 1, weights
