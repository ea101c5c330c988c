"""Real-entity inventory and `world.names: real`: F / H / R decide which roles take real,
widely known entities, typed by relation; the built-in tokenizer covers them."""

from __future__ import annotations

import re

import pytest

from lorarecycle.config import ExperimentConfig, WorldSpec, load_preset
from lorarecycle.errors import UserError
from lorarecycle.model.tokenizer import build_tokenizer
from lorarecycle.tasks.two_hop.entities import TYPES, object_type, real_entities
from lorarecycle.tasks import task_of
from lorarecycle.tasks.text import TEMPLATE_WORDS
from lorarecycle.tasks.two_hop.world import build_world

SPEC = dict(names="real", n_test_chains=40, n_skill_chains=10, n_fewshot_chains=5, n_familiar=30,
            n_pretrain_paths=40, n_control_paths=10)


def test_inventory_is_large_clean_and_typed():
    inventory = real_entities()
    assert set(inventory) == set(TYPES)
    assert len(inventory["person"]) >= 500 and len(inventory["city"]) >= 300 and len(inventory["organisation"]) >= 300
    names = [n.lower() for group in inventory.values() for n in group]
    assert len(names) == len(set(names))  # unique across types
    forbidden = set(TEMPLATE_WORDS) | set(WorldSpec().relations)
    for name in names:
        assert re.fullmatch(r"[a-z0-9' -]+", name) and 1 <= len(name.split()) <= 3, name
        assert name not in forbidden


@pytest.mark.parametrize(("familiarity", "real_roles"), [("F", ""), ("H", "a"), ("R", "abc")])
def test_familiarity_decides_which_roles_are_real_entities_of_the_right_type(familiarity, real_roles):
    spec = WorldSpec(familiarity=familiarity, **SPEC)
    world = build_world(spec, seed=0)
    typed = {t: set(names) for t, names in real_entities().items()}
    all_real = set().union(*typed.values())
    role_type = {"a": "person", "b": object_type(spec.hop1_relation), "c": object_type(spec.hop2_relation)}
    assert role_type["c"] == "organisation"  # the employer of a person
    chains = world.group("test") + world.group("skill") + world.group("fewshot")
    for role in "abc":
        entities = [getattr(c, role) for c in chains]
        if role in real_roles:
            assert all(e in typed[role_type[role]] for e in entities)
        else:
            assert not any(e in all_real for e in entities)
    used = [getattr(c, r) for c in chains for r in "abc"]
    assert len(used) == len(set(used))  # every chain entity distinct
    assert build_world(spec, seed=0).chains == world.chains  # deterministic


def test_real_names_change_only_the_names_not_the_design():
    real = build_world(WorldSpec(familiarity="R", **SPEC), seed=0)
    fictional = build_world(WorldSpec(familiarity="R", **{**SPEC, "names": "fictional"}), seed=0)
    assert [c.id for c in real.chains] == [c.id for c in fictional.chains]
    assert real.graph == fictional.graph  # the tiny model's pretraining knowledge is unchanged
    assert len(real.background) == len(fictional.background)


def test_builtin_tokenizer_covers_real_names():
    cfg = load_preset("smoke").model_copy(update={"world": WorldSpec(familiarity="R", **SPEC)})
    task = task_of(cfg)
    tokenizer = build_tokenizer(task.vocabulary(cfg))
    world, datasets = task.build(cfg)
    for examples in datasets.values():
        for ex in examples:
            assert tokenizer.unk_token_id not in tokenizer(ex.text)["input_ids"], ex.text


def test_too_many_chains_for_the_inventory_is_one_clear_error():
    with pytest.raises(UserError, match="needs 2020 real person entities"):
        build_world(WorldSpec(familiarity="R", **{**SPEC, "n_test_chains": 1000, "n_skill_chains": 5,
                                                  "n_fewshot_chains": 5, "n_familiar": 30}), seed=0)


def test_real_names_are_two_hop_only():
    with pytest.raises(ValueError, match="world.names real applies to task two_hop only"):
        ExperimentConfig(task="math", world=WorldSpec(names="real"))
