"""The two-hop task's catalog: expert 1 learns r1(A)=B, expert 2 learns r2(B)=C, the test
asks r2(r1(A))."""

from __future__ import annotations

from ..catalog import Catalog

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
    retention="retention",
    question_noun="two-hop questions",
    matched_control="control_matched_cot",
    in_context=("incontext_twohop_cot", "incontext_distractor_cot"),
    in_context_gate="incontext_distractor_cot",
    demo_sets={"incontext_twohop_direct": "fewshot_incontext_direct", "incontext_twohop_cot": "fewshot_incontext_cot",
               "incontext_distractor_cot": "fewshot_distractor_cot"},
    base_checks=("control_matched_cot", "incontext_twohop_direct", "incontext_twohop_cot", "incontext_distractor_cot"),
    legend=(
        ("hop1", "`hop1`/`hop2`: the experts' own facts"),
        ("twohop_direct", "`twohop_*`: r2(r1(A)) on the experts' chains (no adapter was trained on these questions)"),
        ("control_direct", "`control_*`: the same kind of question over familiar entities whose facts the base model "
                           "read in pretraining (can it compose at all?)"),
        ("control_matched_cot", "`control_matched_cot` (base only): the matched control, chains of the test's "
                                "relations and shape over new names whose two facts pretraining states once"),
        ("incontext_twohop_direct", "`incontext_twohop_*` (base only): the two-hop questions with both facts stated "
                                    "before them (does the model compose what it is told?)"),
        ("incontext_distractor_cot", "`incontext_distractor_cot` (base only): the same with a second fact of each "
                                     "relation stated, shuffled, so looking a relation up is right half the time"),
        ("retention", "`retention`: familiar pretraining facts no adapter trains on (forgetting facts)"),
    ),
)
