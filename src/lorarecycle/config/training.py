"""How a stage trains: pretraining of the built-in model, adapters and fine-tunes (their
recipes). Field defaults are the default experiment's (`presets/default.yaml`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .sections import StrictModel


class TrainSpec(StrictModel):
    epochs: int = Field(ge=1)
    lr: float = Field(gt=0)
    batch_size: int = Field(32, ge=1)
    micro_batch_size: int | None = Field(
        None, ge=1, description="split each batch into chunks of this size (gradient accumulation, same update)")
    weight_decay: float = Field(0.0, ge=0)
    warmup_frac: float = Field(0.05, ge=0, le=1)
    stop_loss: float | None = Field(None, gt=0, description="stop once an epoch's mean loss falls below this")


class PretrainSpec(TrainSpec):
    """Pretraining of the built-in model."""

    cot_form: bool = Field(True, description="each pretraining fact also as a single-hop chain of thought, so the "
                           "base recalls its facts where a chain of thought asks for them, not only at a sequence start")
    chain_form: bool = Field(
        True, description="two-hop task: each pretraining fact also as the second step of a two-hop chain of thought "
        "after an invented first step about a one-off name, new every epoch, given as context (no loss on it)")

    incontext_loss: Literal["all", "answer"] = Field(
        "all", description="where the in-context sequences over one-off names carry loss (the warmup's and the main "
        "stage's): all: every token; answer: their answers only, not the stated facts nor the question, whose "
        "one-off names can only be guessed, so the names' guessing does not compete with copying them")
    layout_warmup_steps: int = Field(
        400, ge=0, description="steps of fixed-layout in-context sequences (the test's relation pair, facts in chain "
        "order, then the CoT question; fresh names) before the main corpus: the first stage of a curriculum that "
        "teaches restating a new name (with world.n_incontext > 0 for the second stage); 0 = none")


class ExpertTrainSpec(TrainSpec):
    """Training of an adapter or fine-tune on new knowledge."""

    # a value of `recipe`, not a new switch: a new field would change every config and stage hash
    recipe: Literal["plain", "replay", "replay_after_demos"] = Field(
        "replay", description="plain: own examples, answer-only loss (the ablation); replay: each fact also in its "
        "question form, loss on the full sequence, plus replayed pretraining examples; replay_after_demos (a "
        "--base-model with prompt.shots, plain prompts): replay, and each own example also after prompt.shots format "
        "demonstrations from the few-shot chains (a new draw every epoch, loss on its answer), with the stop check "
        "reading its examples after demonstrations, as the evaluation asks them")
    replay_ratio: float = Field(1.0, ge=0, le=100, description="replayed pretraining examples per own example (replay)")
    replay_from: Literal["pool", "facts"] = Field(
        "facts", description="what the replay draws from: the whole pool of pretraining examples (pool: facts, questions, "
        "in-context sequences) or only its single facts (facts: the form the retention split asks in); the retention "
        "split is held out of both")
    replay_draw: Literal["once", "every_epoch"] = Field(
        "every_epoch", description="one replay sample for the whole training (once) or a new one every epoch (every_epoch: the "
        "same number of examples, so the epochs together rehearse more of the pool)")
    replay_kl: float = Field(
        1.0, ge=0, le=100, description="adapters only: weight of a distillation term on the replayed examples, the KL "
        "divergence from the base model (the adapter switched off) to the adapted model at every position of the "
        "replayed text, added to their loss, so the adapter keeps the base's predictions there, not only the answers")
    stop_recall: float | None = Field(
        0.98, gt=0, le=1, description="stop at the first check where exact-match recall of a sample of the own "
        "examples reaches this (None: run every epoch); retention and control CoT are recorded at each check")
    check_every: int = Field(5, ge=1, description="epochs between held-out checks")
    recall_check: Literal["pooled", "per_set"] = Field(
        "pooled", description="stop_recall's sample: drawn from all own examples at once (pooled), or one sample per "
        "training set, each of which must reach stop_recall (per_set: a union whose sets differ in size, e.g. 110 "
        "facts beside 360 procedure problems, does not stop while the smaller set is still being learned)")
    cot_form: bool = Field(True, description="replay recipe (plain ignores it): each fact also as a single-hop chain "
                           "of thought ('Question: Who is the r of X? Reasoning: The r of X is Y. So the answer is Y.'), "
                           "so it is trained where a chain of thought recalls it, not only at a sequence start")

    chain_form: bool = Field(True, description="replay recipe, two-hop task, plain prompts: each fact also as the "
                             "second step of a two-hop chain of thought whose first step is a fact about a one-off name, "
                             "new every epoch ('... Reasoning: The r of X is A. The r2 of A is B. So the answer is B.'), "
                             "so a fact is trained after a reasoning step that ends in its subject")

    chain_loss: Literal["all", "second_step"] = Field(
        "second_step", description="chain_form's loss: every token a target, as the replay recipe (all), or only the second "
        "step and the answer (second_step: the question and the invented first step are context), so the bridge is "
        "never trained as the object of a chain of thought's first step; read only with chain_form")

    @property
    def replays(self) -> bool:
        return self.recipe != "plain"

    @property
    def after_demos(self) -> bool:
        return self.recipe == "replay_after_demos"


class FullFineTuneSpec(ExpertTrainSpec):
    """Training of a full fine-tune (references full_ft, full_ft_replay): every weight moves,
    at a lower learning rate; one replay sample from the whole pool, and no KL term (its
    reference is the adapter switched off, and a full fine-tune has no adapter)."""

    epochs: int = Field(30, ge=1)
    lr: float = Field(1e-4, gt=0)
    batch_size: int = Field(16, ge=1)
    replay_from: Literal["pool", "facts"] = "pool"
    replay_draw: Literal["once", "every_epoch"] = "once"
    replay_kl: float = Field(0.0, ge=0, le=100, description="must stay 0: a full fine-tune has no adapter to switch off")
