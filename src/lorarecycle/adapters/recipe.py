"""What an adapter (or fine-tune) trains on under its recipe.

plain   its own examples, loss on the answer only: what most published LoRAs are.
replay  its own examples and each fact's question form (two surface forms, so the fact is
        stored, not one string memorised), loss on the full sequence (the subject is a
        trained target too), plus `replay_ratio` pretraining examples per own example, so
        the procedure the base model had is rehearsed while the facts go in. Over a
        `--base-model` the pool is the model's own text (`self_replay`: our corpus is not
        that model's pretraining).
        `cot_form` adds each fact as a single-hop chain of thought (a third surface form:
        the fact as a reasoning step after a question, where a CoT has to recall it).
        `chain_form` adds each fact as the second step of a two-hop CoT whose first step is a
        fact about a one-off name, new every epoch (`chain_forms`, built from the world);
        `chain_loss: second_step` trains only its second step (the rest is context).
        `replay_from: facts` replays only the pool's single facts; `replay_draw: every_epoch`
        draws a new replay sample every epoch (the same size), so the epochs cover more of it.
        `replay_kl` marks the replayed examples for a distillation term toward the base
        (`Example.distill`, read by the trainer).
replay_after_demos  replay, and each own example also after the evaluation's format
        demonstrations (`demo_forms`, a new draw every epoch): over a real LM a fact learned
        with nothing before it is not recalled after three other facts of its form
        (docs/probes.md, *Facts after demonstrations on a real LM*).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import NamedTuple

from ..config import ExpertTrainSpec
from ..errors import UserError
from ..seeding import make_rng
from ..tasks.example import Example
from ..tasks.recipe_sets import REPLAY_POOL, cot_forms_set, questions_set
from .self_replay import SELF_TEXT


class Recipe(NamedTuple):
    """Training material: `fixed` is trained every epoch as it is; `regroup(epoch)` gives that
    epoch's new material (a replay drawn every epoch, chain forms), the same number every epoch."""

    fixed: list[Example]
    loss_on_prompt: bool
    regroup: Callable[[int], list[Example]] | None = None

    def first_epoch(self) -> list[Example]:
        """What the first epoch trains on: also what the stage's content hash reads (the
        material of later epochs follows from it and the seed)."""
        return self.fixed + (self.regroup(0) if self.regroup else [])


EpochForms = Callable[[list[Example], int, int], list[Example]]  # (own examples, seed, epoch) -> that epoch's forms


def recipe_examples(sets: tuple[str, ...], datasets: dict[str, list[Example]], spec: ExpertTrainSpec,
                    seed: int, chain_forms: EpochForms | None = None, demo_forms: EpochForms | None = None) -> Recipe:
    """The training material of an adapter trained on `sets`; `chain_forms(facts, seed, epoch)`
    (the task's, over its world) is needed with `spec.chain_form`, `demo_forms` (the run's
    format demonstrations) with `spec.after_demos`."""
    own = [ex for name in sets for ex in datasets[name]]
    if spec.recipe == "plain":
        return Recipe(own, False)
    form_sets = (questions_set, cot_forms_set) if spec.cot_form else (questions_set,)
    forms = [ex for name in sets for form in form_sets for ex in datasets.get(form(name), [])]
    draw = partial(_replay_sample, _replay_pool(datasets[REPLAY_POOL], spec), round(spec.replay_ratio * len(own)), seed,
                   spec.replay_kl > 0)
    if spec.chain_form and chain_forms is None:
        raise ValueError("chain_form needs the task's chain forms (two-hop only)")
    if spec.after_demos and demo_forms is None:
        raise ValueError("replay_after_demos needs the run's format demonstrations")
    fresh = [partial(chain_forms, own, seed, loss=spec.chain_loss)] if spec.chain_form else []
    fresh += [partial(demo_forms, own, seed)] if spec.after_demos else []
    if spec.replay_draw == "every_epoch":
        return Recipe(own + forms, True, partial(_joined, (draw, *fresh)))
    return Recipe(own + forms + draw(0), True, partial(_joined, tuple(fresh)) if fresh else None)


def _replay_pool(pool: list[Example], spec: ExpertTrainSpec) -> list[Example]:
    if spec.replay_from == "pool":
        return pool
    # a --base-model's own text (self_replay) has no facts to pick from: all of it is replayed
    facts = [ex for ex in pool if ex.kind in ("fact", SELF_TEXT)]
    if pool and not facts and spec.replay_ratio > 0:  # math: every old price is the retention split
        raise UserError("replay_from: facts: this task's replay pool holds no single facts (its old facts are all "
                        "held out as the retention split); set replay_from: pool")
    return facts


def _replay_sample(pool: list[Example], n: int, seed: int, distill: bool, epoch: int) -> list[Example]:
    """`n` examples of the pool, drawn for `epoch` (`replay_draw: once` trains epoch 0's every epoch)."""
    rng = make_rng(seed, "replay", str(epoch))
    sample = rng.sample(pool, min(len(pool), n))
    return [replace(ex, distill=True) for ex in sample] if distill else sample


def _joined(parts: tuple[Callable[[int], list[Example]], ...], epoch: int) -> list[Example]:
    return [ex for part in parts for ex in part(epoch)]
