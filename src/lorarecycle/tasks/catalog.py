"""What a task's catalog says: which training sets each adapter learns from, the built-in
libraries, the test splits by role (composed, hops, controls, retention, base checks) and
the few-shot material. Plain data; each task package holds its own."""

from __future__ import annotations

from dataclasses import dataclass, field

REFERENCES = ("union", "union_replay", "union_demos", "full_ft", "full_ft_replay", "target_expert")
# references trained with the replay recipe whatever the experts' recipe is
REPLAY_REFERENCES = ("union_replay", "full_ft_replay")


@dataclass(frozen=True)
class Catalog:
    test_splits: tuple[str, ...]
    composed: tuple[str, str]  # (direct, chain-of-thought) splits that need both experts
    hops: tuple[str, str]  # the two experts' own knowledge, asked directly
    controls: tuple[str, ...]  # the same questions over knowledge the base model already has
    train_sets: tuple[str, ...]  # every set any model trains on (never a test question)
    # adapter name -> training sets. `general` (a sample of the pretraining corpus) is
    # GenKnowSub's general-knowledge expert; union* and target_expert are data-access
    # references: pooled expert data, plus demonstrations, and the test questions themselves.
    expert_data: dict[str, tuple[str, ...]]
    library_experts: tuple[str, ...]
    libraries: dict[str, tuple[str, ...]]
    fewshot_sources: dict[str, str]  # each expert's few-shot inputs (retrievers)
    fewshot_examples: str  # target-task few-shot examples (LoraHub), never from test chains
    retention: str  # the split of old pretraining facts no model trains on, asked after training
    full_ft_data: tuple[str, ...] = field(default=())
    # evaluated on the base model only, before any LoRA: the composed questions with the
    # needed facts given in the prompt (does the model follow the templates and compose
    # in context?)
    base_checks: tuple[str, ...] = field(default=())
    # the base-only split of Gate 0's matched control (chains like the test's over facts the
    # base read); None: the control split itself is matched (math)
    matched_control: str | None = None
    # the base checks that state the needed facts in context, CoT form (diagnostics beside the gates)
    in_context: tuple[str, ...] = ()
    # the in-context split Gate 0 reads over a --base-model (no matched control applies there):
    # the distractor form, which a relation lookup cannot pass
    in_context_gate: str | None = None
    # evaluated split -> the few-shot set holding its format demonstrations in the same form
    # (`prompt.shots`); splits not named draw demonstrations of their kind from the few-shot pool
    demo_sets: dict[str, str] = field(default_factory=dict)
    question_noun: str = "composed questions"  # the composed split's questions in the verdict sentence
    # what each split asks, in table order, keyed by the split that opens the entry (a `_direct`
    # key also covers its `_cot` twin); a report names only the splits its run has
    legend: tuple[tuple[str, str], ...] = ()

    def splits_for(self, model: str, own_pretraining: bool = True) -> tuple[str, ...]:
        """The splits `model` is evaluated on. Without our own pretraining (a --base-model)
        the splits that ask for our pretraining facts (controls, retention) measure nothing:
        that model never saw them, so they are not evaluated."""
        splits = (*self.test_splits, *self.base_checks) if model == "base" else self.test_splits
        return splits if own_pretraining else tuple(s for s in splits if s not in self.pretraining_splits)

    def demo_pool(self, datasets: dict) -> list:
        """The format demonstrations' pool (`prompt.shots`): the few-shot chains' examples only,
        never a test chain's."""
        sources = dict.fromkeys([self.fewshot_examples, *self.fewshot_sources.values()])
        return [ex for name in sources if name.startswith("fewshot") for ex in datasets[name]]

    @property
    def pretraining_splits(self) -> tuple[str, ...]:
        return (*self.controls, *([self.matched_control] if self.matched_control else []), self.retention)

    @property
    def scored_with_bridge(self) -> tuple[str, ...]:
        return (*self.composed, *self.controls)
