"""Datasets of a two-hop world: training sets for the base model and experts, test splits.

Every example is a (prompt, completion) pair; `answer` is the entity scored by exact match.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from ...seeding import make_rng
from ..example import Example, in_context
from ..names import unique_names
from ..text import TEMPLATE_WORDS
from . import templates as T
from .incontext import incontext_corpus
from .world import Chain, Fact, World


GENERAL_SAMPLE = 300


def fact_example(fact: Fact, chain: str = "") -> Example:
    return Example(
        id=f"fact:{fact.relation}:{fact.subject}",
        kind="fact",
        prompt=T.fact_prompt(fact.relation, fact.subject),
        completion=T.fact_completion(fact.obj),
        answer=fact.obj,
        chain=chain,
    )


def question_example(fact: Fact, chain: str = "") -> Example:
    """The fact's second surface form: asked as a single-hop question."""
    return Example(f"question:{fact.relation}:{fact.subject}", "direct", T.single_hop_prompt(fact.relation, fact.subject),
                   T.fact_completion(fact.obj), fact.obj, chain)


def fact_parts(ex: Example) -> tuple[str, str] | None:
    """(relation, subject) of a fact example, read from its id; None for anything else."""
    if not ex.id.startswith("fact:"):
        return None
    _, relation, subject = ex.id.split(":", 2)
    return relation, subject


def question_form(ex: Example) -> Example | None:
    """A fact example's question form (None for anything that is not a fact)."""
    if (parts := fact_parts(ex)) is None:
        return None
    relation, subject = parts
    return question_example(Fact(subject, relation, ex.answer), ex.chain)


def cot_form(ex: Example) -> Example | None:
    """A fact example's single-hop chain-of-thought form (None for anything that is not a fact):
    the fact as a reasoning step after a question, where a CoT recalls it, not at a sequence start."""
    if (parts := fact_parts(ex)) is None:
        return None
    relation, subject = parts
    return Example(f"cot-form:{relation}:{subject}", "cot", T.single_hop_cot_prompt(relation, subject),
                   T.single_hop_cot_completion(relation, subject, ex.answer), ex.answer, ex.chain)


def chain_forms(world: World, facts: list[Example], seed: int, epoch: int,
                loss: Literal["all", "second_step"] = "all") -> list[Example]:
    """Each fact example as the second step of a two-hop chain of thought whose first step
    states a fact about a one-off name X ("Question: Who is the r2 of the r of X? Reasoning:
    The r of X is A. The r2 of A is B. So the answer is B."): the fact after a reasoning step
    that ends in its subject, where a two-hop CoT asks for it. X and r are new every epoch
    (seen once, X's fact is not learned as one), X is never a world entity, and r differs
    from the fact's relation; nothing is taken from any other chain. `loss="second_step"`
    puts the question and the invented step into the prompt and masks it (context, no loss,
    whatever the stage does with prompts), so the subject is never a trained first-step
    object: the trained tokens are then those of the fact's `cot_form`, after a different context."""
    spec = world.spec
    own = [(ex, parts) for ex in facts if (parts := fact_parts(ex)) is not None]
    rng = make_rng(seed, "chain-forms", str(epoch))
    reserved = {*TEMPLATE_WORDS, *spec.relations, *(e.lower() for e in world.entities)}
    out = []
    for (ex, (relation, subject)), x in zip(own, unique_names(rng, len(own), reserved, spec.name_words)):
        step = rng.choice([r for r in spec.relations if r != relation])
        prompt, completion = T.cot_prompt(step, relation, x), T.cot_completion(step, relation, x, subject, ex.answer)
        if loss == "second_step":
            prompt = prompt + T.cot_first_step(step, x, subject)
            completion = T.single_hop_cot_completion(relation, subject, ex.answer)
        out.append(Example(f"chain-form:{epoch}:{relation}:{subject}", "cot", prompt, completion, ex.answer, ex.chain,
                           subject, x, loss_on_prompt=False if loss == "second_step" else None))
    return out


def direct_example(c: Chain) -> Example:
    return Example(f"direct:{c.id}", "direct", T.direct_prompt(c.r1, c.r2, c.a), T.fact_completion(c.c), c.c, c.id, c.b,
                   c.a, c.exposed)


def cot_example(c: Chain) -> Example:
    completion = T.cot_completion(c.r1, c.r2, c.a, c.b, c.c)
    return Example(f"cot:{c.id}", "cot", T.cot_prompt(c.r1, c.r2, c.a), completion, c.c, c.id, c.b, c.a, c.exposed)


def chain_facts(c: Chain) -> str:
    return f"{T.fact_prompt(c.r1, c.a)} {c.b}. {T.fact_prompt(c.r2, c.b)} {c.c}."


def distractor_facts(c: Chain, chains: list[Chain], seed: int) -> str:
    """The chain's two facts and one more of each relation, from two other chains, in a
    shuffled order: two facts per relation, so a model that answers with the object of a
    stated fact of the asked relation, without composing, is right half the time."""
    rng = make_rng(seed, "distractor", c.id)
    others = rng.sample([d for d in chains if d.id != c.id], min(2, len(chains) - 1))
    facts = [*c.facts(), *(d.facts()[i] for i, d in enumerate(others))]
    rng.shuffle(facts)
    return " ".join(f"{T.fact_prompt(f.relation, f.subject)} {f.obj}." for f in facts)


def build_datasets(world: World) -> dict[str, list[Example]]:
    """All training sets and test splits, keyed by name (the catalog's train_sets and test_splits)."""
    test, skill, pre, fewshot = (world.group(g) for g in ("test", "skill", "pretrain", "fewshot"))
    control = [c for c in world.group("control") if not c.matched]  # graph paths, any relations
    matched = [c for c in world.group("control") if c.matched]
    hop1 = [replace(fact_example(c.facts()[0], c.id), exposed=c.exposed) for c in test]
    hop2 = [replace(fact_example(c.facts()[1], c.id), exposed=c.exposed) for c in test]
    fewshot_hop1 = [fact_example(c.facts()[0], c.id) for c in fewshot]
    fewshot_hop2 = [fact_example(c.facts()[1], c.id) for c in fewshot]
    pretrain = [fact_example(f) for f in world.pretraining_facts()]
    pretrain += [direct_example(c) for c in pre] + [cot_example(c) for c in pre]
    retention = make_rng(world.seed, "retention").sample(world.graph, min(world.spec.n_retention, len(world.graph)))
    skill_set = [fact_example(f, c.id) for c in skill for f in c.facts()]
    skill_set += [direct_example(c) for c in skill] + [cot_example(c) for c in skill]
    general = make_rng(world.seed, "general").sample(pretrain, min(GENERAL_SAMPLE, len(pretrain)))
    return {
        "pretrain": pretrain,
        # the first epoch's in-context sequences (pretraining draws fresh ones every epoch)
        "pretrain_incontext": incontext_corpus(world, world.spec.n_incontext),
        "hop1_facts": hop1 + fewshot_hop1,
        "hop2_facts": hop2 + fewshot_hop2,
        "skill": skill_set,
        "general": general,
        "fewshot_hop1": fewshot_hop1,
        "fewshot_hop2": fewshot_hop2,
        # interleaved, so the first n shots hold both question forms
        "fewshot_twohop": [ex for c in fewshot for ex in (direct_example(c), cot_example(c))],
        # format demonstrations of the in-context checks, in their form, over few-shot chains only
        "fewshot_incontext_direct": [in_context(direct_example(c), chain_facts(c)) for c in fewshot],
        "fewshot_incontext_cot": [in_context(cot_example(c), chain_facts(c)) for c in fewshot],
        "fewshot_distractor_cot": [in_context(cot_example(c), distractor_facts(c, fewshot, world.seed)) for c in fewshot],
        "hop1": hop1,
        "hop2": hop2,
        "twohop_direct": [direct_example(c) for c in test],
        "twohop_cot": [cot_example(c) for c in test],
        "control_direct": [direct_example(c) for c in control],
        "control_cot": [cot_example(c) for c in control],
        # the test's relation pair and shape over new names whose facts pretraining states once
        "control_matched_cot": [cot_example(c) for c in matched],
        # familiar facts asked again after training: forgetting facts vs forgetting the procedure
        "retention": [fact_example(f) for f in retention],
        "incontext_twohop_direct": [in_context(direct_example(c), chain_facts(c)) for c in test],
        "incontext_twohop_cot": [in_context(cot_example(c), chain_facts(c)) for c in test],
        "incontext_distractor_cot": [in_context(cot_example(c), distractor_facts(c, test, world.seed)) for c in test],
    }

