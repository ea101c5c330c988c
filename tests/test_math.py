"""The math word-problem task: determinism, disjoint splits, no leakage, the knobs."""

from __future__ import annotations

import pytest

from .helpers import plain_replay
from lorarecycle.config import MathSpec, WorldSpec, load_preset
from lorarecycle.model.tokenizer import build_tokenizer
from lorarecycle.tasks.math import templates as M
from lorarecycle.tasks.math import MATH
from lorarecycle.tasks.math.datasets import build_math_datasets
from lorarecycle.tasks.math.world import build_math_world
from lorarecycle.tasks.text import extract_answer, normalize

SPEC = MathSpec(n_test_items=30, n_fewshot_items=5, n_procedure_items=20, n_familiar_items=24, n_buyers=6)


def build(familiarity="F", exposure=0.0, seed=0):
    world = build_math_world(WorldSpec(familiarity=familiarity, exposure=exposure), SPEC, seed)
    return world, build_math_datasets(world)


def texts(examples):
    return {ex.text for ex in examples}


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = build()[1], build()[1], build(seed=1)[1]
    assert {k: [e.to_dict() for e in v] for k, v in a.items()} == {k: [e.to_dict() for e in v] for k, v in b.items()}
    assert texts(a["math_cot"]) != texts(c["math_cot"])


def test_item_groups_are_disjoint_and_test_items_only_in_the_knowledge_expert():
    world, data = build()
    groups = {g: set(world.items(g)) for g in ("test", "fewshot", "procedure", "pretrain")}
    for x in groups:
        for y in groups:
            if x < y:
                assert not groups[x] & groups[y]
    test_items = groups["test"]
    assert {ex.chain for ex in data["math_cot"]} == test_items
    # the procedure expert never sees a test item; the knowledge expert never sees a question
    assert not any(item in ex.text for ex in data["procedure_set"] for item in test_items)
    assert all(ex.kind == "fact" for ex in data["knowledge_facts"])
    assert texts(data["knowledge"]) <= texts(data["knowledge_facts"])
    # few-shot questions are about few-shot items, never test items
    assert {ex.chain for ex in data["fewshot_math"]} == groups["fewshot"]


def test_the_rule_is_new_to_the_base_and_only_the_procedure_expert_learns_it():
    world, data = build(familiarity="R", exposure=1.0)
    shop, fee = world.test_shop, world.shops[world.test_shop]
    rule = M.rule_sentence(shop, fee)
    assert any(rule in ex.text for ex in data["procedure_set"])  # the procedure expert states it
    for name in ("pretrain", "pretrain_incontext", "knowledge_facts", "general"):  # the replay pool: their subset
        assert not any(shop in ex.text for ex in data[name]), name  # nor the shop's name, in any form
    assert fee != world.shops[world.familiar_shop]  # the pretrained rule is another fee
    familiar_rule = M.rule_sentence(world.familiar_shop, world.shops[world.familiar_shop])
    assert any(familiar_rule in ex.text for ex in data["pretrain"])  # the habit of applying a stated rule
    assert not any(familiar_rule in ex.text for ex in data["procedure_set"] + data["knowledge_facts"])


def test_no_test_question_is_trained_on_and_answers_are_right():
    world, data = build(familiarity="R", exposure=1.0)
    trained = {ex.prompt for name in MATH.train_sets for ex in data[name]}
    for split in (*MATH.composed, *MATH.controls):
        for ex in data[split]:
            assert ex.prompt not in trained
            p = next(q for q in world.problems if q.item == ex.chain and q.buyer in ex.prompt
                     and f" {q.count} " in ex.prompt)
            assert ex.answer == str(p.count * (p.price + p.fee)) and ex.bridge == str(p.price)
    for ex in data["math_cot"]:  # the gold CoT states the price, the rule, the sum, the product, the answer
        assert extract_answer(ex.completion, "cot") == normalize(ex.answer)
        assert M.cot_steps(ex.completion) == (normalize(ex.chain), ex.bridge, ex.answer)
        assert M.stated_rule(ex.completion) == (normalize(world.test_shop), str(world.shops[world.test_shop]))


def test_the_control_is_distinct_problems_over_familiar_items_and_its_size_leaves_everything_else_alone():
    """Issue 13: a matched control of >= 150 problems at the default sizes; its size is drawn
    last, so the pretraining corpus, the experts' data and the cached base do not depend on it."""
    from lorarecycle.config import load_preset
    from lorarecycle.train.pretrain import base_model_key

    world, data = build()
    small = build_math_world(WorldSpec(), SPEC.model_copy(update={"control_problems_per_item": 1}), 0)
    control = world.group("control")
    items = {p.item for p in control}
    assert len(control) == len(items) * SPEC.control_problems_per_item and items <= set(world.items("pretrain"))
    assert len({(p.item, p.buyer, p.count) for p in control}) == len(control)  # no problem twice
    assert len(data["control_cot"]) == len(control) and not texts(data["control_cot"]) & texts(data["pretrain"])
    prices = {ex.prompt for ex in data["pretrain"] if ex.kind == "fact"}
    assert {M.price_prompt(item) for item in items} <= prices  # familiar: their prices are pretraining facts
    assert [p for p in world.problems if p.group != "control"] == [p for p in small.problems if p.group != "control"]
    paper = load_preset("default").model_copy(update={"task": "math"})  # the math defaults: paper-math's sizes
    assert len(build_math_world(paper.world, paper.math, 0).group("control")) >= 150
    one = paper.model_copy(update={"math": paper.math.model_copy(update={"control_problems_per_item": 1})})
    assert base_model_key(one) == base_model_key(paper) and one.config_hash() != paper.config_hash()
    with pytest.raises(ValueError, match="distinct"):
        MathSpec(n_buyers=2, max_count=3, control_problems_per_item=5)


def test_pretraining_has_the_arithmetic_and_familiar_prices_only():
    world, data = build()
    corpus = texts(data["pretrain"])
    assert texts(data["arithmetic"]) <= corpus  # the control split: the base model can multiply
    assert not any(item in t for t in corpus for item in world.items("test"))  # F: test items unseen
    assert {ex.answer for ex in data["math_cot"] + data["control_cot"]} <= set(M.NUMBERS)  # one token each


@pytest.mark.parametrize(("familiarity", "items_seen", "buyers_seen"), [("F", False, False), ("H", True, False),
                                                                         ("R", True, True)])
def test_familiarity_controls_what_pretraining_mentions(familiarity, items_seen, buyers_seen):
    world, data = build(familiarity=familiarity)
    corpus = " ".join(ex.text for ex in data["pretrain"])
    assert all((item in corpus) == items_seen for item in world.items("test"))
    assert all((buyer in corpus) == buyers_seen for buyer in world.test_buyers)
    # familiarity never leaks a test price
    prices = texts(data["knowledge"])
    assert not prices & texts(data["pretrain"])


@pytest.mark.parametrize("exposure", [0.0, 0.5, 1.0])
def test_exposure_puts_that_fraction_of_test_prices_in_pretraining(exposure):
    _, data = build(exposure=exposure)
    seen = sum(ex.text in texts(data["pretrain"]) for ex in data["knowledge"])
    assert seen == round(exposure * SPEC.n_test_items)


def test_the_distractor_prompt_states_one_true_price_and_rule_and_one_distractor_of_each():
    import re

    world, data = build()
    for plain, distracted in zip(data["incontext_math_cot"], data["incontext_math_distractor_cot"]):
        problem = next(p for p in world.group("test") if p.item == plain.chain)
        prices = re.findall(r"A bag of (\w+) costs (\d+) coins\.", distracted.prompt.split(" Question:")[0])
        rules = re.findall(r"At (\w+) a bag costs (\d+) coins more\.", distracted.prompt.split(" Question:")[0])
        assert len(prices) == 2 and (problem.item, str(problem.price)) in prices
        assert len(rules) == 2 and (world.test_shop, str(problem.fee)) in rules
        assert (world.familiar_shop, str(world.shops[world.familiar_shop])) in rules
        assert plain.prompt.count("A bag of") == 1 and plain.prompt.count(" coins more.") == 1
    orders = {d.prompt.split(" Question:")[0].startswith(f"A bag of {d.chain}") for d in data["incontext_math_distractor_cot"]}
    assert orders == {True, False}  # shuffled


def test_tokenizer_covers_the_math_task():
    _, data = build(familiarity="R")
    tok = build_tokenizer([*M.MATH_WORDS, *M.NUMBERS])
    for examples in data.values():
        for ex in examples:
            assert tok.unk_token_id not in tok(ex.text)["input_ids"], ex.text


def test_smoke_math_runs_end_to_end(tmp_path):
    import json

    from .helpers import cli

    result = cli("run", "--preset", "smoke-math", "--out", str(tmp_path / "run"), cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert {r["split"] for r in rows} == set(MATH.splits_for("base"))
    models = {(r["model"], r["library"]) for r in rows}
    assert ("expert:knowledge", None) in models and ("arrow", "two") in models and ("lorahub", "two") in models
    cot = next(r for r in rows if r["model"] == "base" and r["split"] == "math_cot")
    assert set(cot["errors"]) == {"bridge", "other_entity", "other"} and "first_hop_accuracy" in cot
    assert {"subject_accuracy", "second_hop_given_first"} <= set(cot)  # item restated, product given the price
    # the same gates on the math catalog: item copy, in-context price, union_replay's knowledge and procedure
    gates = {g["gate"]: g for g in json.loads((tmp_path / "run" / "run.json").read_text())["gates"]}
    assert gates["gate0"]["checks"][0] == {"check": "base math_cot: subject restated",
                                           "value": cot["subject_accuracy"], "threshold": ">= 0.95",
                                           "passed": cot["subject_accuracy"] >= 0.95}
    assert [c["check"] for c in gates["gate2"]["checks"][:3]] == [
        "union_replay knowledge", "union_replay procedure", "union_replay math_cot: first hop"]
    assert (tmp_path / "run" / "figures" / "routing-arrow-two.png").is_file()
    assert (tmp_path / "run" / "report.html").is_file()


def test_replay_from_facts_is_refused_where_every_old_fact_is_the_retention_split():
    from lorarecycle.adapters.recipe import recipe_examples
    from lorarecycle.errors import UserError
    from lorarecycle.tasks import TASKS

    task = TASKS.get("math")
    _, data = task.build(load_preset("smoke-math"))
    sets = ("knowledge_facts",)
    spec = plain_replay()
    assert len(recipe_examples(sets, data, spec, 0).fixed) > len(data["knowledge_facts"])  # the pool replays
    with pytest.raises(UserError, match="replay_from: facts: this task's replay pool holds no single facts"):
        recipe_examples(sets, data, spec.model_copy(update={"replay_from": "facts"}), 0)


def test_no_replayable_text_states_a_retention_price():
    from lorarecycle.tasks import TASKS

    _, data = TASKS.get("math").build(load_preset("smoke-math"))
    statements = [ex.prompt + ex.completion.rstrip(".") for ex in data["retention"]]
    assert any(s in ex.text for ex in data["pretrain"] for s in statements)  # CoT problems over familiar items
    assert not any(s in ex.text for ex in data["replay_pool"] for s in statements)
