"""What an adapter (or fine-tune) trains on under its recipe.

plain   its own examples, loss on the answer only: what most published LoRAs are.
replay  its own examples and each fact's question form (two surface forms, so the fact is
        stored, not one string memorised), loss on the full sequence (the subject is a
        trained target too), plus `replay_ratio` pretraining examples per own example, so
        the procedure the base model had is rehearsed while the facts go in. Over a
        `--base-model` the pool is empty (our corpus is not that model's pretraining).
"""

from __future__ import annotations

from ..config import ExpertTrainSpec
from ..seeding import make_rng
from ..tasks.example import Example
from ..tasks.recipe_sets import REPLAY_POOL, questions_set


def recipe_examples(sets: tuple[str, ...], datasets: dict[str, list[Example]], spec: ExpertTrainSpec,
                    seed: int) -> tuple[list[Example], bool]:
    """(training examples, loss on the prompt too) for an adapter trained on `sets`."""
    own = [ex for name in sets for ex in datasets[name]]
    if spec.recipe == "plain":
        return own, False
    forms = [ex for name in sets for ex in datasets.get(questions_set(name), [])]
    pool = datasets[REPLAY_POOL]
    replay = make_rng(seed, "replay").sample(pool, min(len(pool), round(spec.replay_ratio * len(own))))
    return own + forms + replay, True
