"""docs/extending.md's toy task, as written there: a third task in one file. Owners have pets
(expert `pet` learns "The pet of O is P."), pets eat foods (expert `food` learns "The food of
P is F."), and the test asks what an owner's pet eats. Pretraining holds the same kind of
facts and questions over familiar owners (the control) and nothing of the test owners.

A task package in the source tree would be `tasks/<name>/__init__.py` building `TASK`, plus
one line in `tasks/__init__.py`; the test registers this one itself."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lorarecycle.seeding import make_rng
from lorarecycle.tasks import REFERENCE_ROLE, Catalog, Example, Task
from lorarecycle.tasks.names import unique_names
from lorarecycle.tasks.text import TEMPLATE_WORDS, reasoning_sentences

CATALOG = Catalog(
    test_splits=("pet", "food", "owner_direct", "owner_cot", "control_direct", "control_cot", "retention"),
    composed=("owner_direct", "owner_cot"),
    hops=("pet", "food"),
    controls=("control_direct", "control_cot"),
    train_sets=("pretrain", "pet_facts", "food_facts", "fewshot_pet", "fewshot_food", "fewshot_owner"),
    expert_data={"pet": ("pet_facts",), "food": ("food_facts",), "union_replay": ("pet_facts", "food_facts")},
    library_experts=("pet", "food"),
    libraries={"two": ("pet", "food")},
    fewshot_sources={"pet": "fewshot_pet", "food": "fewshot_food"},
    fewshot_examples="fewshot_owner",
    retention="retention",
    legend=(("pet", "`pet`/`food`: the experts' facts"), ("owner_direct", "`owner_*`: what an owner's pet eats")),
)
WORDS = ("pet", "food", "what", "does", "eat")


@dataclass(frozen=True)
class Chain:
    id: str
    owner: str
    pet: str
    food: str


@dataclass(frozen=True)
class PetWorld:
    groups: dict[str, list[Chain]]  # test | fewshot | pretrain | control

    @property
    def entities(self) -> list[str]:
        return [x for chains in self.groups.values() for c in chains for x in (c.owner, c.pet, c.food)]


def build_world(cfg) -> PetWorld:
    rng, sizes = make_rng(cfg.seed, "pets"), {"test": 12, "fewshot": 4, "pretrain": 30, "control": 8}
    names = iter(unique_names(rng, 3 * sum(sizes.values()), {*TEMPLATE_WORDS, *WORDS}))
    return PetWorld({g: [Chain(f"{g}{i}", next(names), next(names), next(names)) for i in range(n)]
                     for g, n in sizes.items()})


def _fact(relation: str, subject: str, obj: str, chain: str) -> Example:
    return Example(f"{relation}:{chain}", "fact", f"The {relation} of {subject} is", f" {obj}.", obj, chain)


def _question(c: Chain, kind: str) -> Example:
    question = f"Question: What does the pet of {c.owner} eat? {'Reasoning' if kind == 'cot' else 'Answer'}:"
    steps = f" The pet of {c.owner} is {c.pet}. The food of {c.pet} is {c.food}. So the answer is" if kind == "cot" else ""
    return Example(f"{kind}:{c.id}", kind, question, f"{steps} {c.food}.", c.food, c.id, c.pet, c.owner)


def build_datasets(world: PetWorld) -> dict[str, list[Example]]:
    g = world.groups
    facts = [f for c in g["pretrain"] + g["control"] for f in (_fact("pet", c.owner, c.pet, c.id),
                                                                 _fact("food", c.pet, c.food, c.id))]
    pet = [_fact("pet", c.owner, c.pet, c.id) for c in g["test"] + g["fewshot"]]
    food = [_fact("food", c.pet, c.food, c.id) for c in g["test"] + g["fewshot"]]
    return {"pretrain": facts + [_question(c, k) for c in g["pretrain"] for k in ("direct", "cot")],
            "pretrain_incontext": [], "pet_facts": pet, "food_facts": food,
            "fewshot_pet": pet[len(g["test"]):], "fewshot_food": food[len(g["test"]):],
            "fewshot_owner": [_question(c, k) for c in g["fewshot"] for k in ("direct", "cot")],
            "pet": pet[:len(g["test"])], "food": food[:len(g["test"])],
            "owner_direct": [_question(c, "direct") for c in g["test"]],
            "owner_cot": [_question(c, "cot") for c in g["test"]],
            "control_direct": [_question(c, "direct") for c in g["control"]],
            "control_cot": [_question(c, "cot") for c in g["control"]],
            "retention": facts[:10]}


def cot_steps(generated: str) -> tuple[str, str, str]:
    """(owner, pet, food) a generation states: "The pet of O is P. The food of P is F." """
    found = [re.fullmatch(r"the \w+ of (.+) is (.+)", s) for s in reasoning_sentences(generated)]
    (subject, bridge), (_, answer) = [m.groups() if m else ("", "") for m in found + [None] * (2 - len(found))][:2]
    return subject, bridge, answer


TASK = Task(name="pets", catalog=CATALOG, sections=("world",), build_world=build_world,
            build_datasets=build_datasets, vocabulary=lambda cfg: [*TEMPLATE_WORDS, *WORDS], cot_steps=cot_steps,
            probe_entities=lambda world: [(c.owner, REFERENCE_ROLE, True, "Question:") for c in world.groups["pretrain"]],
            question_form=lambda ex: None, cot_form=lambda ex: None, incontext=lambda world, n, *args, **kw: [])
