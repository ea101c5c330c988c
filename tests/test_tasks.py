"""Datasets: determinism, disjointness, no leakage of test questions, familiarity knobs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .helpers import plain_replay
from lorarecycle.config import WorldSpec, load_preset
from lorarecycle.model.tokenizer import build_tokenizer
from lorarecycle.tasks.two_hop.datasets import build_datasets
from lorarecycle.tasks.names import SYLLABLES, name_capacity, usable_word
from lorarecycle.tasks.two_hop.world import build_world

SPEC = WorldSpec(n_test_chains=40, n_skill_chains=20, n_familiar=50, n_pretrain_paths=80, n_control_paths=20)


def texts(examples):
    return {ex.text for ex in examples}


_PIECES = st.sampled_from(["ka", "kat", "kato", "katori", "to", "tor", "bove", "bo", "vize zoli", "mentor", "the"])


@given(st.sets(_PIECES, max_size=6), st.sampled_from(["kato", "bove", "tori", "zoli", "mentor", "ka"]))
def test_usable_word_is_no_reserved_word_and_no_reserved_prefix_longer_than_a_syllable(reserved, word):
    by_definition = word not in reserved and not any(len(r) > 2 and word.startswith(r) for r in reserved)
    assert usable_word(word, reserved) == by_definition


def test_name_capacity_counts_the_usable_words():
    assert name_capacity(set(), 1) == len(SYLLABLES) ** 2 and name_capacity(set(), 2) == len(SYLLABLES) ** 4
    # "kat" bars the 5 words "katX"; a two-word reserved name bars only itself, so not here
    assert name_capacity({"kat", "vize zoli"}, 1) == len(SYLLABLES) ** 2 - 5


def test_same_seed_same_world_other_seed_other_world():
    a, b, c = build_world(SPEC, 1), build_world(SPEC, 1), build_world(SPEC, 2)
    assert a.chains == b.chains and a.background == b.background
    assert a.chains != c.chains


def test_new_knowledge_uses_fresh_entities():
    world = build_world(SPEC, 0)
    new = [e for c in world.group("test") + world.group("skill") for e in (c.a, c.b, c.c)]
    graph = {e for f in world.graph for e in (f.subject, f.obj)}
    assert len(new) == len(set(new)) and not set(new) & graph


def test_control_paths_compose_pretraining_facts():
    world = build_world(SPEC, 0)
    pretraining = set(world.pretraining_facts())
    for chain in world.group("control") + world.group("pretrain"):
        assert set(chain.facts()) <= pretraining


def test_the_matched_control_has_the_test_relations_and_shape():
    world = build_world(SPEC, 0)
    matched = [c for c in world.group("control") if c.matched]
    assert len(matched) == SPEC.n_control_matched == 150  # Gate 0's matched control: Wilson half-width <= 0.08
    assert len(world.group("control")) == SPEC.n_control_paths + SPEC.n_control_matched
    data = build_datasets(world)  # the matched chains are their own split, not part of control_*
    assert {ex.chain for ex in data["control_matched_cot"]} == {c.id for c in matched}
    assert not {ex.chain for ex in data["control_cot"]} & {c.id for c in matched}
    assert all((c.r1, c.r2) == (SPEC.hop1_relation, SPEC.hop2_relation) for c in matched)
    entities = [e for c in matched for e in (c.a, c.b, c.c)]
    test = {e for c in world.group("test") for e in (c.a, c.b, c.c)}
    assert len(set(entities)) == len(entities) and not set(entities) & test
    # each fact stated once in pretraining, like an exposed test chain
    facts = [f for f in world.pretraining_facts()]
    assert all(facts.count(f) == 1 for c in matched for f in c.facts())


def _stated_facts(prompt: str) -> list[tuple[str, str, str]]:
    import re

    context = prompt.split(" Question:")[0]
    return [m.groups() for m in re.finditer(r"The (\w+) of (.+?) is (.+?)\.", context)]


def _lookup(prompt: str, relation: str, rng) -> str:
    """The scripted relation lookup: the object of a random stated fact of the asked relation."""
    return rng.choice([obj for rel, _, obj in _stated_facts(prompt) if rel == relation])


def test_the_distractor_prompt_states_two_facts_per_relation_and_the_chain_s_two():
    world = build_world(SPEC, 0)
    data = build_datasets(world)
    chains = {c.id: c for c in world.group("test")}
    for ex in data["incontext_distractor_cot"]:
        c, facts = chains[ex.chain], _stated_facts(ex.prompt)
        assert sorted(rel for rel, _, _ in facts) == sorted([c.r1, c.r1, c.r2, c.r2])
        assert (c.r1, c.a, c.b) in facts and (c.r2, c.b, c.c) in facts
        assert len({subject for _, subject, _ in facts}) == 4  # only the chain composes from A
    orders = {tuple(rel for rel, _, _ in _stated_facts(ex.prompt)) for ex in data["incontext_distractor_cot"]}
    assert len(orders) > 2  # shuffled


def test_a_relation_lookup_scores_half_on_the_distractor_split_and_all_on_the_plain_one():
    import random

    world = build_world(SPEC, 0)
    data = build_datasets(world)
    rng = random.Random(0)
    relation = SPEC.hop2_relation

    def lookup_accuracy(split):
        return sum(_lookup(ex.prompt, relation, rng) == ex.answer for ex in data[split]) / len(data[split])

    assert lookup_accuracy("incontext_twohop_cot") == 1.0  # one fact per relation: lookup passes
    assert 0.35 <= lookup_accuracy("incontext_distractor_cot") <= 0.65  # n = 40: 0.5 +- 0.15


@pytest.mark.parametrize(("exposure_hop", "exposed"), [("both", (0, 1)), ("hop1", (0,)), ("hop2", (1,))])
def test_exposure_hop_puts_exactly_the_named_facts_into_pretraining(exposure_hop, exposed):
    world = build_world(SPEC.model_copy(update={"exposure": 0.5, "exposure_hop": exposure_hop}), 0)
    pretraining = set(world.pretraining_facts())
    test = world.group("test")
    assert sum(c.exposed for c in test) == round(0.5 * SPEC.n_test_chains)
    for chain in test:
        for i, fact in enumerate(chain.facts()):
            assert (fact in pretraining) == (chain.exposed and i in exposed), (chain.id, i)
    data = build_datasets(world)  # every test example says whether its chain was exposed
    for split in ("hop1", "hop2", "twohop_direct", "twohop_cot"):
        assert [ex.exposed for ex in data[split]] == [c.exposed for c in test]


def test_incontext_sequences_use_one_off_names_fresh_each_epoch():
    from lorarecycle.tasks.two_hop.incontext import incontext_corpus

    world = build_world(SPEC, 0)
    epochs = [incontext_corpus(world, 90, epoch) for epoch in range(3)]
    assert incontext_corpus(world, 90, 1) == epochs[1]  # deterministic
    for corpus in epochs:
        text = " ".join(ex.text for ex in corpus)
        assert not any(e in text for e in world.entities)  # never a name of the world
        # each sequence's subject occurs in no other sequence of its epoch
        assert all(sum(ex.subject in other.text for other in corpus) == 1 for ex in corpus if ex.subject)
        forms = [ex.id.rsplit(":", 1)[1] for ex in corpus]
        assert {f: forms.count(f) for f in set(forms)} == {"cot": 30, "direct": 30, "single": 30}
        test_pair = f"the {SPEC.hop2_relation} of the {SPEC.hop1_relation} of"
        assert sum(test_pair in ex.prompt for ex in corpus) >= 20  # a third of the two-hop ones, at least
    subjects = [{ex.subject for ex in corpus if ex.subject} for corpus in epochs]
    assert not subjects[0] & subjects[1] and not subjects[1] & subjects[2]


def test_fixed_layout_sequences_are_the_incontext_test_layout_with_one_off_names():
    from dataclasses import replace

    from lorarecycle.tasks.two_hop.datasets import chain_facts, cot_example, in_context
    from lorarecycle.tasks.two_hop.incontext import incontext_corpus
    from lorarecycle.tasks.two_hop.world import Chain

    world = build_world(SPEC, 0)
    corpus = incontext_corpus(world, 60, 0, fixed_layout=True)
    assert incontext_corpus(world, 60, 0, fixed_layout=True) == corpus
    assert corpus != incontext_corpus(world, 60, 1, fixed_layout=True)
    text = " ".join(ex.text for ex in corpus)
    assert not any(e in text for e in world.entities)
    for ex in corpus:
        chain = Chain(ex.chain, "test", ex.subject, ex.bridge, ex.answer, SPEC.hop1_relation, SPEC.hop2_relation)
        expected = in_context(cot_example(chain), chain_facts(chain))
        assert (ex.prompt, ex.completion) == (expected.prompt, expected.completion)
    varied = incontext_corpus(world, 60, 0)  # the second stage keeps its own names and layouts
    assert not {ex.subject for ex in corpus} & {ex.subject for ex in varied if ex.subject}
    assert replace(varied[0], id="") != replace(corpus[0], id="")


def test_fixed_layout_math_problems_state_only_the_asked_price_and_rule():
    from lorarecycle.config import MathSpec
    from lorarecycle.tasks.math.datasets import incontext_math_corpus
    from lorarecycle.tasks.math.world import build_math_world

    world = build_math_world(WorldSpec(), MathSpec(), 0)
    corpus = incontext_math_corpus(world, 40, 0, fixed_layout=True)
    for ex in corpus:
        assert ex.kind == "cot" and ex.prompt.count(" costs ") == 2 and ex.prompt.count(" coins more.") == 1
        assert ex.prompt.startswith(f"A bag of {ex.subject} costs") and f"bags of {ex.subject} at " in ex.prompt
        assert ex.subject not in world.entities and not set(world.shops) & set(ex.prompt.split())


def test_retention_facts_are_pretraining_facts_held_out_of_replay():
    from lorarecycle.adapters.recipe import recipe_examples
    from lorarecycle.tasks.two_hop import TWO_HOP
    from lorarecycle.tasks.two_hop.datasets import cot_form, question_form
    from lorarecycle.tasks.recipe_sets import REPLAY_POOL, recipe_sets

    data = build_datasets(build_world(SPEC, 0))
    data |= recipe_sets(data, TWO_HOP, question_form, cot_form)
    retention = {ex.prompt for ex in data["retention"]}
    assert len(retention) == SPEC.n_retention and retention <= {ex.prompt for ex in data["pretrain"]}
    spec = plain_replay(replay_ratio=0.5)
    recipe = recipe_examples(("hop1_facts",), data, spec, seed=3)
    examples, loss_on_prompt, regroup = recipe.fixed, recipe.loss_on_prompt, recipe.regroup
    own = data["hop1_facts"]
    assert regroup is None
    assert loss_on_prompt and examples[: len(own)] == own
    forms = examples[len(own) : 2 * len(own)]
    assert [f.prompt for f in forms] == [f"Question: Who is the mentor of {ex.id.split(':', 2)[2]}? Answer:" for ex in own]
    assert [f.answer for f in forms] == [ex.answer for ex in own]
    replay = examples[2 * len(own) :]
    assert len(replay) == round(0.5 * len(own)) and not {ex.prompt for ex in replay} & retention
    assert not {ex.prompt for ex in replay} & {ex.prompt for ex in own}
    # held out in every form: no pool text states a retention fact (pretraining CoTs over graph
    # paths state facts as reasoning steps); the pool keeps every other pretraining text
    statements = [ex.prompt + ex.completion.rstrip(".") for ex in data["retention"]]
    pretraining = data["pretrain"] + data["pretrain_incontext"]
    stating = [ex for ex in pretraining if any(s in ex.text for s in statements)]
    assert any(ex.kind == "cot" for ex in stating)  # the case exists in this world
    assert data[REPLAY_POOL] == [ex for ex in pretraining if ex not in stating]
    plain = recipe_examples(("hop1_facts",), data, spec.model_copy(update={"recipe": "plain"}), 3)
    assert plain.fixed == own and not plain.loss_on_prompt


def test_replay_drawn_every_epoch_from_facts_only_stays_off_the_retention_split():
    from functools import partial

    from lorarecycle.adapters.recipe import recipe_examples
    from lorarecycle.tasks import TASKS
    from lorarecycle.tasks.recipe_sets import REPLAY_POOL

    task = TASKS.get("two_hop")
    cfg = load_preset("smoke")
    world, data = task.build(cfg)
    sets = ("hop1_facts", "hop2_facts")
    own = [ex for name in sets for ex in data[name]]
    retention = {ex.prompt for ex in data["retention"]}
    spec = plain_replay(replay_ratio=0.5)
    once = recipe_examples(sets, data, spec, 3)
    fresh = recipe_examples(sets, data, spec.model_copy(update={"replay_draw": "every_epoch"}), 3)
    n = round(0.5 * len(own))
    assert once.regroup is None and fresh.fixed == once.fixed[: len(fresh.fixed)]  # own examples and forms kept
    assert len(once.fixed) - len(fresh.fixed) == n
    draws = [fresh.regroup(e) for e in range(3)]
    assert all(len(d) == n for d in draws) and draws[0] == fresh.regroup(0)  # seeded
    assert draws[0] != draws[1] != draws[2]  # a new sample each epoch
    pool = {ex.prompt for ex in data[REPLAY_POOL]}
    assert all(ex.prompt in pool and ex.prompt not in retention for d in draws for ex in d)
    facts = recipe_examples(sets, data, spec.model_copy(update={"replay_from": "facts"}), 3)
    replay = facts.fixed[len(fresh.fixed):]
    assert len(replay) == n and {ex.kind for ex in replay} == {"fact"} and not {ex.prompt for ex in replay} & retention
    assert {ex.kind for ex in once.fixed[len(fresh.fixed):]} != {"fact"}  # the whole pool holds questions too
    # with chain forms, every epoch holds that epoch's chain forms and that epoch's replay
    both = spec.model_copy(update={"replay_draw": "every_epoch", "chain_form": True})
    chained = recipe_examples(sets, data, both, 3, partial(task.chain_forms, world))
    assert chained.regroup(1) == fresh.regroup(1) + task.chain_forms(world, own, 3, 1)


def test_replay_kl_marks_the_replayed_examples_only_and_enters_no_data_hash():
    from lorarecycle.adapters.recipe import recipe_examples
    from lorarecycle.tasks import TASKS

    _, data = TASKS.get("two_hop").build(load_preset("smoke"))
    sets = ("hop1_facts", "hop2_facts")
    spec = plain_replay(replay_from="facts", replay_draw="every_epoch")
    plain, marked = (recipe_examples(sets, data, spec.model_copy(update={"replay_kl": kl}), 3) for kl in (0.0, 1.0))
    assert [ex.to_dict() for ex in plain.first_epoch()] == [ex.to_dict() for ex in marked.first_epoch()]
    assert not any(ex.distill for ex in plain.first_epoch()) and not any(ex.distill for ex in marked.fixed)
    assert all(ex.distill for ex in marked.regroup(0)) and marked.regroup(0)  # the replay, and nothing else


def test_a_full_fine_tune_refuses_replay_kl():
    from pydantic import ValidationError

    from lorarecycle.config import ExperimentConfig

    base = load_preset("default").model_dump()
    with pytest.raises(ValidationError, match="full_ft_replay.replay_kl: only adapters take it"):
        ExperimentConfig.model_validate({**base, "full_ft_replay": {**base["full_ft_replay"], "replay_kl": 1.0}})
    inherited = {**base, "experts": {**base["experts"], "replay_kl": 1.0}, "references": ["full_ft"]}
    with pytest.raises(ValidationError, match="experts.replay_kl: .* reference full_ft fine-tunes the whole model"):
        ExperimentConfig.model_validate(inherited)
    ExperimentConfig.model_validate({**inherited, "references": ["union_replay", "full_ft_replay"]})  # adapters: fine


def test_cot_form_adds_each_own_fact_as_a_single_hop_chain_of_thought_and_nothing_else():
    from lorarecycle.adapters.recipe import recipe_examples
    from lorarecycle.tasks import TASKS

    task = TASKS.get("two_hop")
    cfg = load_preset("smoke")
    _, data = task.build(cfg)
    spec = plain_replay(replay_ratio=1.0)
    base = recipe_examples(("hop2_facts",), data, spec, seed=3).fixed
    with_cot = recipe_examples(("hop2_facts",), data, spec.model_copy(update={"cot_form": True}), seed=3).fixed
    own = data["hop2_facts"]
    added = [ex for ex in with_cot if ex not in base]
    assert len(with_cot) == len(base) + len(own) and len(added) == len(own)  # the same replay, one form per fact
    for fact, form in zip(own, added):
        subject = fact.prompt.removeprefix(f"The {cfg.world.hop2_relation} of ").removesuffix(" is")
        assert form.text == (f"Question: Who is the {cfg.world.hop2_relation} of {subject}? Reasoning: "
                             f"The {cfg.world.hop2_relation} of {subject} is {fact.answer}. So the answer is {fact.answer}.")
        assert form.chain == fact.chain
    # no two-hop text: a test question's prompt never appears in the training material
    tests = {ex.prompt for split in ("twohop_cot", "twohop_direct") for ex in data[split]}
    assert not tests & {ex.prompt for ex in with_cot}
    assert task.cot_form(data["twohop_cot"][0]) is None
    # a preset's cot_form does not reach the plain ablation: the same material
    plain = spec.model_copy(update={"recipe": "plain"})
    plain_cot = plain_replay(replay_ratio=1.0, recipe="plain", cot_form=True)
    assert recipe_examples(("hop2_facts",), data, plain_cot, 3) == recipe_examples(("hop2_facts",), data, plain, 3)


def test_chain_forms_set_each_fact_after_a_reasoning_step_about_a_one_off_name_new_every_epoch():
    from functools import partial

    from lorarecycle.adapters.recipe import recipe_examples
    from lorarecycle.tasks import TASKS

    task = TASKS.get("two_hop")
    cfg = load_preset("smoke")
    world, data = task.build(cfg)
    spec = plain_replay(replay_ratio=1.0)
    own = data["hop1_facts"] + data["hop2_facts"]
    chain = partial(task.chain_forms, world)
    plain_recipe = recipe_examples(("hop1_facts", "hop2_facts"), data, spec, 3, chain)
    recipe = recipe_examples(("hop1_facts", "hop2_facts"), data, spec.model_copy(update={"chain_form": True}), 3, chain)
    assert plain_recipe.regroup is None and recipe.fixed == plain_recipe.fixed  # the forms come on top, fresh
    epochs = [recipe.regroup(e) for e in range(2)]
    assert epochs[0] == recipe.regroup(0) and recipe.first_epoch() == recipe.fixed + epochs[0]  # seeded
    entities = {e.lower() for e in world.entities}
    tests = {ex.prompt for split in ("twohop_cot", "twohop_direct") for ex in data[split]}
    for forms in epochs:
        assert len(forms) == len(own)
        for fact, form in zip(own, forms):
            _, relation, subject = fact.id.split(":", 2)
            head = form.prompt.removeprefix(f"Question: Who is the {relation} of the ").removesuffix("? Reasoning:")
            first, x = head.split(" of ", 1)
            assert first in cfg.world.relations and first != relation and x.lower() not in entities
            assert form.completion == (f" The {first} of {x} is {subject}. The {relation} of {subject} is "
                                       f"{fact.answer}. So the answer is {fact.answer}.")
        assert not tests & {f.prompt for f in forms}
    names = [{f.prompt.split(" of ")[-1] for f in forms} for forms in epochs]
    assert len(names[0]) == len(own) and not names[0] & names[1]  # one-off names, new every epoch
    # chain_loss is chain_form's shape: nothing without it
    off = spec.model_copy(update={"chain_loss": "second_step"})
    assert recipe_examples(("hop1_facts", "hop2_facts"), data, off, 3, chain) == plain_recipe
    assert task.chain_forms is not None and TASKS.get("math").chain_forms is None


def test_chain_loss_second_step_trains_the_second_step_only_the_invented_step_is_context():
    from functools import partial

    from lorarecycle.adapters.recipe import recipe_examples
    from lorarecycle.model.batching import IGNORE, encode_example
    from lorarecycle.tasks import TASKS

    task = TASKS.get("two_hop")
    cfg = load_preset("smoke")
    world, data = task.build(cfg)
    chain = partial(task.chain_forms, world)
    spec = plain_replay(replay_ratio=1.0, chain_form=True)
    second = spec.model_copy(update={"chain_loss": "second_step"})
    full = recipe_examples(("hop1_facts", "hop2_facts"), data, spec, 3, chain)
    masked = recipe_examples(("hop1_facts", "hop2_facts"), data, second, 3, chain)
    assert masked.fixed == full.fixed and masked.loss_on_prompt and second != spec
    forms = masked.regroup(0)
    assert all(ex.loss_on_prompt is False for ex in forms)
    assert all(ex.loss_on_prompt is None for ex in full.regroup(0))  # the stage's setting: loss on the prompt
    for whole, split in zip(full.regroup(0), forms):
        subject = split.bridge  # the fact's subject, the invented step's object
        assert whole.text == split.text and split.prompt.endswith(f" is {subject}.")
        assert split.completion.startswith(" The ") and f" of {subject} is {split.answer}." in split.completion
    tokenizer = build_tokenizer(task.vocabulary(cfg))
    for whole, split in zip(full.regroup(0), forms):  # the cut falls on a token boundary
        assert encode_example(tokenizer, whole, True)[0] == encode_example(tokenizer, split, False)[0]
    ids, labels = encode_example(tokenizer, forms[0], masked.loss_on_prompt)  # the example's own masking decides
    trained = tokenizer.decode([i for i, label in zip(ids, labels) if label != IGNORE], skip_special_tokens=True)
    assert forms[0].bridge.lower() in trained.lower() and "reasoning" not in trained.lower()
    assert trained.lower().split()[:2] == ["the", forms[0].id.split(":")[2]]  # starts at the second step


def test_math_price_facts_have_a_chain_of_thought_form_that_states_the_price_as_a_math_cot_does():
    from lorarecycle.tasks.math import templates as M
    from lorarecycle.tasks import TASKS
    from lorarecycle.tasks.text import extract_answer

    task = TASKS.get("math")
    _, data = task.build(load_preset("smoke-math"))
    fact = data["knowledge_facts"][0]
    form = task.cot_form(fact)
    item = fact.id.split(":", 1)[1]
    assert form.prompt == f"Question: How many coins does a bag of {item} cost? Reasoning:"
    price = fact.answer.split()[0]  # "N coins"
    assert form.completion == f" {fact.prompt}{fact.completion} So the answer is {price}." and form.answer == price
    assert M.cot_steps(form.completion)[:2] == (item.lower(), price)  # read as a CoT's first step
    assert extract_answer(form.completion, "cot") == price  # the answer as a math CoT gives it, a number


def test_general_sample_is_pretraining_data():
    data = build_datasets(build_world(SPEC, 0))
    assert data["general"] and texts(data["general"]) <= texts(data["pretrain"])


def test_pretraining_fact_forms_add_each_fact_as_a_cot_and_as_a_masked_second_step(smoke_cfg):
    """`pretrain.cot_form` / `.chain_form`: every pretraining fact once more as a single-hop CoT
    (fixed) and, every epoch, as the second step after an invented step about a new one-off
    name, that step masked; off, the material is the corpus and the in-context sequences."""
    from lorarecycle.model.batching import IGNORE, encode_example
    from lorarecycle.tasks.two_hop.incontext import incontext_corpus
    from lorarecycle.tasks import task_of
    from lorarecycle.train.pretrain import pretraining_material

    world, data = task_of(smoke_cfg).build(smoke_cfg)
    corpus, n = data["pretrain"], smoke_cfg.world.n_incontext
    facts = [ex for ex in corpus if ex.kind == "fact"]
    plain, fresh = pretraining_material(smoke_cfg, world, corpus)
    assert plain == corpus and fresh(1) == incontext_corpus(world, n, 1)
    on = smoke_cfg.model_copy(update={"pretrain": smoke_cfg.pretrain.model_copy(update={"cot_form": True,
                                                                                      "chain_form": True})})
    extended, fresh = pretraining_material(on, world, corpus)
    assert extended[: len(corpus)] == corpus
    cots = extended[len(corpus):]
    assert [ex.id.removeprefix("cot-form:") for ex in cots] == [ex.id.removeprefix("fact:") for ex in facts]
    for cot, fact in zip(cots, facts):
        relation, subject = fact.id.split(":")[1:]
        assert cot.prompt == f"Question: Who is the {relation} of {subject}? Reasoning:"
        assert cot.completion == f" The {relation} of {subject} is {fact.answer}. So the answer is {fact.answer}."
    entities = {e.lower() for e in world.entities}
    tokenizer = build_tokenizer(task_of(on).vocabulary(on))
    names = []
    for epoch in (0, 1):
        material = fresh(epoch)
        assert material[:n] == incontext_corpus(world, n, epoch)
        chains = material[n:]
        assert len(chains) == len(facts) and all(ex.loss_on_prompt is False for ex in chains)
        for chain, fact in zip(chains, facts):
            relation, subject = fact.id.split(":")[1:]
            assert chain.completion.startswith(f" The {relation} of {subject} is {fact.answer}.")
            assert chain.bridge == subject and chain.subject.lower() not in entities  # a step about a one-off name
            ids, labels = encode_example(tokenizer, chain, True)  # masked even where prompts carry loss
            trained = tokenizer.decode([i for i, label in zip(ids, labels) if label != IGNORE], skip_special_tokens=True)
            assert chain.subject.lower() not in trained.lower() and subject.lower() in trained.lower()
        names.append({ex.subject for ex in chains})
    assert not names[0] & names[1]  # new one-off names every epoch


def test_incontext_loss_answer_trains_the_answers_of_the_incontext_sequences_only(smoke_cfg):
    """`pretrain.incontext_loss: answer`: the in-context sequences of both stages carry loss on
    their completions only (no stated fact's name, no question), the same texts as `all`; the
    fixed corpus keeps its loss; the cached base's key is unchanged at `all`."""
    from functools import partial

    from lorarecycle.model.batching import IGNORE, encode_example
    from lorarecycle.model.precision import set_precision
    from lorarecycle.tasks.two_hop.incontext import incontext_corpus
    from lorarecycle.tasks import task_of
    from lorarecycle.train import pretrain
    from lorarecycle.train.pretrain import base_model_key, pretraining_material

    world, data = task_of(smoke_cfg).build(smoke_cfg)
    corpus, n = data["pretrain"], smoke_cfg.world.n_incontext
    answer = smoke_cfg.model_copy(update={"pretrain": smoke_cfg.pretrain.model_copy(update={"incontext_loss": "answer"})})
    fixed, fresh = pretraining_material(answer, world, corpus)
    assert fixed == corpus and all(ex.loss_on_prompt is None for ex in fixed)
    plain = incontext_corpus(world, n, 3)
    masked = fresh(3)
    assert [ex.text for ex in masked] == [ex.text for ex in plain] and all(ex.loss_on_prompt is False for ex in masked)
    tokenizer = build_tokenizer(task_of(answer).vocabulary(answer))
    for ex in masked:
        ids, labels = encode_example(tokenizer, ex, True)  # masked even where the stage trains prompts
        trained = tokenizer.decode([i for i, label in zip(ids, labels) if label != IGNORE], skip_special_tokens=True)
        assert trained.replace(" ", "") == ex.completion.lower().replace(" ", "")
        assert ex.prompt.split(" Question:")[0].lower() not in trained  # the stated facts carry no loss
    seen = {}

    def capture(model, tokenizer, examples, spec, seed, label, loss_on_prompt, fresh=None, monitor=None):
        seen.setdefault(label, fresh(0))
        return {}

    layout = partial(incontext_corpus, world, fixed_layout=True)
    warm = answer.model_copy(update={"pretrain": answer.pretrain.model_copy(update={"layout_warmup_steps": 1})})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pretrain, "train_causal_lm", capture)
        pretrain.pretrain_model(None, tokenizer, warm, corpus, fresh, layout)
    assert all(ex.loss_on_prompt is False for examples in seen.values() for ex in examples) and len(seen) == 2
    set_precision("fp32")
    assert base_model_key(smoke_cfg) == base_model_key(smoke_cfg.model_copy(update={
        "pretrain": smoke_cfg.pretrain.model_copy(update={"incontext_loss": "all"})})) != base_model_key(answer)


def test_an_examples_own_masking_stays_out_of_its_dump_so_data_files_and_stage_keys_are_unchanged():
    from dataclasses import replace

    from lorarecycle.tasks.example import Example

    ex = Example("fact:mentor:Ka Bo", "fact", "The mentor of Ka Bo is", " Ri Su.", "Ri Su")
    assert replace(ex, loss_on_prompt=False).to_dict() == ex.to_dict() and "loss_on_prompt" not in ex.to_dict()
