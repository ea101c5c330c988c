"""What an adapter (or fine-tune) trains on under its recipe.

plain   its own examples, loss on the answer only: what most published LoRAs are.
replay  its own examples and each fact's question form (two surface forms, so the fact is
        stored, not one string memorised), loss on the full sequence (the subject is a
        trained target too), plus `replay_ratio` pretraining examples per own example, so
        the procedure the base model had is rehearsed while the facts go in. Over a
        `--base-model` the pool is empty (our corpus is not that model's pretraining).
        `pack: k` joins k of the own examples and question forms (shuffled) into one training
        sequence, so a fact is also learned after other text, as pretraining text is read,
        not only at the start of a sequence.
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
    learned = own + forms if spec.pack == 1 else packed(own + forms, spec.pack, seed)
    return learned + replay, True


def packed(examples: list[Example], k: int, seed: int) -> list[Example]:
    """The examples in a seeded shuffle, `k` per sequence, joined as one text (the replay
    recipe puts the loss on every token, so nothing is lost by joining). The groups are the
    same every epoch: a fact that is not first in its group is never learned at a sequence
    start (measured with `pack: 4`: recall at the start 0.28-0.33; docs/results/gate-probes)."""
    order = make_rng(seed, "pack").sample(examples, len(examples))
    groups = [order[i : i + k] for i in range(0, len(order), k)]
    return [Example(f"packed:{'+'.join(ex.id for ex in group)}", "packed", " ".join(ex.text for ex in group), "",
                    group[-1].answer) for group in groups]
