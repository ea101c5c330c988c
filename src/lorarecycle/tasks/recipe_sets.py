"""The extra material of the replay training recipe, built with the task's data: each
training fact's question form (a second surface form), its chain-of-thought form (used with
`cot_form`), and the pool of pretraining examples that may be replayed (no example in it
states a fact of the retention split, in any form)."""

from __future__ import annotations

from collections.abc import Callable

from .catalog import Catalog
from .example import Example

REPLAY_POOL = "replay_pool"


def questions_set(name: str) -> str:
    return f"{name}_questions"


def cot_forms_set(name: str) -> str:
    return f"{name}_cot_forms"


def states_none_of(statements: list[str], ex: Example) -> bool:
    return not any(s in ex.text for s in statements)


def recipe_sets(datasets: dict[str, list[Example]], catalog: Catalog,
                question_form: Callable[[Example], Example | None],
                cot_form: Callable[[Example], Example | None]) -> dict[str, list[Example]]:
    # a retention fact is held out in every form: also where a pretraining CoT states it as a
    # reasoning step (measured: 91 of the default's 100 did, in 172 of the pool's CoT texts)
    retained = [ex.prompt + ex.completion.rstrip(".") for ex in datasets[catalog.retention]]
    pretraining = datasets["pretrain"] + datasets["pretrain_incontext"]
    out = {REPLAY_POOL: [ex for ex in pretraining if states_none_of(retained, ex)]}
    for name in dict.fromkeys(s for sets in catalog.expert_data.values() for s in sets):
        out[questions_set(name)] = [q for ex in datasets[name] if (q := question_form(ex)) is not None]
        out[cot_forms_set(name)] = [q for ex in datasets[name] if (q := cot_form(ex)) is not None]
    return out
