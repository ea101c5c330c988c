"""The math task's catalog: the knowledge expert learns prices, the procedure expert solves
problems with the price given; the test needs both."""

from __future__ import annotations

from ..catalog import Catalog

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
    retention="retention",
    question_noun="word problems",
    base_checks=("incontext_math_direct", "incontext_math_cot", "incontext_math_distractor_cot"),
    legend=(
        ("knowledge", "`knowledge`: the test items' prices (the knowledge expert's facts)"),
        ("procedure", "`procedure`: problems that state the price (the procedure expert's skill, on the test items)"),
        ("math_direct", "`math_*`: problems that need the price and the procedure (no adapter was trained on them)"),
        ("control_direct", "`control_*`: the same kind of problem over familiar items whose prices the base model "
                           "read in pretraining (can it compose at all?)"),
        ("incontext_math_direct", "`incontext_math_*` (base only): the problems with the price stated before them"),
        ("incontext_math_distractor_cot", "`incontext_math_distractor_cot` (base only): the same with another item's "
                                          "price stated too, shuffled (reading off a price is right half the time)"),
        ("arithmetic", "`arithmetic`: the multiplication table"),
        ("retention", "`retention`: familiar pretraining prices no adapter trains on (forgetting facts)"),
    ),
)
