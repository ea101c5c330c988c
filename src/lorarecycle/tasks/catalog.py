"""The expert catalog: which training sets each adapter learns from, the built-in
libraries, and the data-access references. Plain data, importable from the config."""

# Which training sets each adapter learns from. `general` (a sample of what the base model
# read in pretraining) is the general-knowledge expert of GenKnowSub; the last three are
# data-access references: pooled expert data, plus two-hop demonstrations, and the test
# questions themselves (a memorisation ceiling).
EXPERT_DATA = {
    "hop1": ("hop1_facts",),
    "hop2": ("hop2_facts",),
    "skill": ("skill",),
    "general": ("general",),
    "union": ("hop1_facts", "hop2_facts"),
    "union_demos": ("hop1_facts", "hop2_facts", "fewshot_twohop"),
    "target_expert": ("twohop_direct", "twohop_cot"),
}
LIBRARY_EXPERTS = ("hop1", "hop2", "skill", "general")
LIBRARIES = {"two": ("hop1", "hop2"), "three": ("hop1", "hop2", "skill")}
REFERENCES = ("union", "union_demos", "full_ft", "target_expert")
# Full fine-tuning (all weights) on the union's pooled data: a reference, not an adapter.
FULL_FT_DATA = EXPERT_DATA["union"]
# Each expert's few-shot inputs (for retrievers): chains whose questions are never tested.
FEWSHOT_SOURCES = {"hop1": "fewshot_hop1", "hop2": "fewshot_hop2", "skill": "skill", "general": "general"}
