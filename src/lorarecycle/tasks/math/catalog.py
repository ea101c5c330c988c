"""The math task's catalog: the knowledge expert learns prices, the procedure expert a shop's
rule; the test needs both."""

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
    in_context=("incontext_math_cot", "incontext_math_distractor_cot"),
    legend=(
        ("knowledge", "`knowledge`: the test items' prices (the knowledge expert's facts)"),
        ("procedure", "`procedure`: the test problems with the price stated, so only the test shop's rule is "
                      "missing (the procedure expert's skill)"),
        ("math_direct", "`math_*`: the test problems, which need the price and the shop's rule (no adapter was "
                        "trained on them)"),
        ("control_direct", "`control_*`: the same kind of problem over familiar items at the shop whose rule the base "
                           "model read in pretraining (the matched control: can it compose at all?)"),
        ("incontext_math_direct", "`incontext_math_*` (base only): the problems with the price and the rule stated "
                                  "before them"),
        ("incontext_math_distractor_cot", "`incontext_math_distractor_cot` (base only): the same with another item's "
                                          "price and the other shop's rule stated too, shuffled"),
        ("arithmetic", "`arithmetic`: the sum and product tables"),
        ("retention", "`retention`: familiar pretraining prices no adapter trains on (forgetting facts)"),
    ),
)
