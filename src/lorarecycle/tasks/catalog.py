"""The expert catalog of each task: which training sets each adapter learns from, the
built-in libraries, the test splits and the few-shot material. Plain data, importable
from the config."""

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
    full_ft_data: tuple[str, ...] = field(default=())
    # evaluated on the base model only, before any LoRA: the composed questions with the
    # needed facts given in the prompt (does the model follow the templates and compose
    # in context?)
    base_checks: tuple[str, ...] = field(default=())
    retention: str = "retention"  # old pretraining facts no model trains on, asked after training
    # what each split asks, in table order, keyed by the split that opens the entry (a `_direct`
    # key also covers its `_cot` twin); a report names only the splits its run has
    legend: tuple[tuple[str, str], ...] = ()

    def splits_for(self, model: str, own_pretraining: bool = True) -> tuple[str, ...]:
        """The splits `model` is evaluated on. Without our own pretraining (a --base-model)
        the splits that ask for our pretraining facts (controls, retention) measure nothing:
        that model never saw them, so they are not evaluated."""
        splits = (*self.test_splits, *self.base_checks) if model == "base" else self.test_splits
        return splits if own_pretraining else tuple(s for s in splits if s not in self.pretraining_splits)

    @property
    def pretraining_splits(self) -> tuple[str, ...]:
        return (*self.controls, self.retention)

    @property
    def scored_with_bridge(self) -> tuple[str, ...]:
        return (*self.composed, *self.controls)


TWO_HOP = Catalog(
    test_splits=("hop1", "hop2", "twohop_direct", "twohop_cot", "control_direct", "control_cot", "retention"),
    composed=("twohop_direct", "twohop_cot"),
    hops=("hop1", "hop2"),
    controls=("control_direct", "control_cot"),
    train_sets=("pretrain", "hop1_facts", "hop2_facts", "skill", "general", "fewshot_twohop"),
    expert_data={
        "hop1": ("hop1_facts",),
        "hop2": ("hop2_facts",),
        "skill": ("skill",),
        "general": ("general",),
        "union": ("hop1_facts", "hop2_facts"),
        "union_replay": ("hop1_facts", "hop2_facts"),
        "union_demos": ("hop1_facts", "hop2_facts", "fewshot_twohop"),
        "target_expert": ("twohop_direct", "twohop_cot"),
    },
    library_experts=("hop1", "hop2", "skill", "general"),
    libraries={"two": ("hop1", "hop2"), "three": ("hop1", "hop2", "skill")},
    fewshot_sources={"hop1": "fewshot_hop1", "hop2": "fewshot_hop2", "skill": "skill", "general": "general"},
    fewshot_examples="fewshot_twohop",
    full_ft_data=("hop1_facts", "hop2_facts"),
    base_checks=("incontext_twohop_direct", "incontext_twohop_cot"),
    legend=(
        ("hop1", "`hop1`/`hop2`: the experts' own facts"),
        ("twohop_direct", "`twohop_*`: r2(r1(A)) on the experts' chains (no adapter was trained on these questions)"),
        ("control_direct", "`control_*`: the same kind of question over familiar entities whose facts the base model "
                           "read in pretraining (can it compose at all?); its `control-m*` chains match the test "
                           "chains' relations and shape (the matched control)"),
        ("incontext_twohop_direct", "`incontext_twohop_*` (base only): the two-hop questions with both facts stated "
                                    "before them (does the model compose what it is told?)"),
        ("retention", "`retention`: familiar pretraining facts no adapter trains on (forgetting facts)"),
    ),
)

MATH = Catalog(
    test_splits=("knowledge", "procedure", "math_direct", "math_cot", "control_direct", "control_cot", "arithmetic",
                 "retention"),
    composed=("math_direct", "math_cot"),
    hops=("knowledge", "procedure"),
    controls=("control_direct", "control_cot"),
    train_sets=("pretrain", "knowledge_facts", "procedure_set", "general", "fewshot_math"),
    expert_data={
        "knowledge": ("knowledge_facts",),
        "procedure": ("procedure_set",),
        "general": ("general",),
        "union": ("knowledge_facts", "procedure_set"),
        "union_replay": ("knowledge_facts", "procedure_set"),
        "union_demos": ("knowledge_facts", "procedure_set", "fewshot_math"),
        "target_expert": ("math_direct", "math_cot"),
    },
    library_experts=("knowledge", "procedure", "general"),
    libraries={"two": ("knowledge", "procedure")},
    fewshot_sources={"knowledge": "fewshot_knowledge", "procedure": "fewshot_procedure", "general": "general"},
    fewshot_examples="fewshot_math",
    full_ft_data=("knowledge_facts", "procedure_set"),
    base_checks=("incontext_math_direct", "incontext_math_cot"),
    legend=(
        ("knowledge", "`knowledge`: the test items' prices (the knowledge expert's facts)"),
        ("procedure", "`procedure`: problems that state the price (the procedure expert's skill, on the test items)"),
        ("math_direct", "`math_*`: problems that need the price and the procedure (no adapter was trained on them)"),
        ("control_direct", "`control_*`: the same kind of problem over familiar items whose prices the base model "
                           "read in pretraining (can it compose at all?)"),
        ("incontext_math_direct", "`incontext_math_*` (base only): the problems with the price stated before them"),
        ("arithmetic", "`arithmetic`: the multiplication table"),
        ("retention", "`retention`: familiar pretraining prices no adapter trains on (forgetting facts)"),
    ),
)

CATALOGS = {"two_hop": TWO_HOP, "math": MATH}

# The two-hop task's names, kept for the code and tests written against them.
EXPERT_DATA = TWO_HOP.expert_data
LIBRARY_EXPERTS = TWO_HOP.library_experts
LIBRARIES = TWO_HOP.libraries
FEWSHOT_SOURCES = TWO_HOP.fewshot_sources
FULL_FT_DATA = TWO_HOP.full_ft_data
