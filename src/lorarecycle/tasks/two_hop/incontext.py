"""Pretraining sequences that teach the procedure for names the model has never seen.

A model pretrained only on a fixed set of familiar names learns them as whole units and
cannot restate a new one: asked about a test subject it writes a familiar name instead, so
no adapter can ever compose through it. These sequences state facts about one-off names
(each name occurs in one sequence only) in context and then ask about them, so copying a
name and composing stated facts are the cheapest way to predict them:

  cot     facts, then a two-hop chain-of-thought question and its worked answer
  direct  facts, then a two-hop question and its answer
  single  facts, then a single-hop question about one of them

Each sequence holds both facts of a chain r1(X) = Y, r2(Y) = Z plus one distractor fact,
in shuffled order. A third of the chains use the test's relation pair, so the procedure is
practised on exactly the question form the test asks; the names never overlap the world's.

`fixed_layout=True` gives the first stage of a curriculum: always the test's relation pair,
the two facts in chain order, no distractor, then the CoT question (the layout of the
`incontext_twohop_cot` prompts). Measured (docs/results/gate0): from scratch, the varied
sequences taught no copying in 1800 steps; the fixed layout teaches a copy by position in
400, and from there the varied sequences turn it into restating the subject wherever it is.
"""

from __future__ import annotations

from ...seeding import make_rng
from ..example import Example
from ..names import unique_names
from ..text import TEMPLATE_WORDS
from . import templates as T
from .world import Fact, World

FORMS = ("cot", "direct", "single")
TEST_PAIR_SHARE = 3  # every third chain uses (hop1_relation, hop2_relation)


def incontext_corpus(world: World, n: int, epoch: int = 0, fixed_layout: bool = False) -> list[Example]:
    """`n` sequences, fresh for each pretraining epoch: seen once, a name cannot be memorised
    as a unit (measured: with the same sequences every epoch the model learned them by heart
    and restated no new subject)."""
    spec = world.spec
    rng = make_rng(world.seed, "incontext-fixed" if fixed_layout else "incontext", str(epoch))
    reserved = {*TEMPLATE_WORDS, *spec.relations, *(e.lower() for e in world.entities)}
    names = iter(unique_names(rng, 5 * n, reserved, spec.name_words))
    pairs = [(r1, r2) for r1 in spec.relations for r2 in spec.relations if r1 != r2]
    out = []
    for i in range(n):
        test_pair = fixed_layout or i % TEST_PAIR_SHARE == 0
        r1, r2 = (spec.hop1_relation, spec.hop2_relation) if test_pair else rng.choice(pairs)
        x, y, z, d, e = (next(names) for _ in range(5))
        facts = [Fact(x, r1, y), Fact(y, r2, z)]
        if not fixed_layout:
            facts.append(Fact(d, rng.choice(spec.relations), e))
            rng.shuffle(facts)
        context = " ".join(f"{T.fact_prompt(f.relation, f.subject)}{T.fact_completion(f.obj)}" for f in facts)
        form = "cot" if fixed_layout else FORMS[i % len(FORMS)]
        ident = f"{'layout' if fixed_layout else 'incontext'}-{epoch}-{i}"
        if form == "cot":
            ex = Example(f"{ident}:cot", "cot", f"{context} {T.cot_prompt(r1, r2, x)}",
                         T.cot_completion(r1, r2, x, y, z), z, ident, y, x)
        elif form == "direct":
            ex = Example(f"{ident}:direct", "direct", f"{context} {T.direct_prompt(r1, r2, x)}",
                         T.fact_completion(z), z, ident, y, x)
        else:
            relation, subject, obj = (r1, x, y) if rng.random() < 0.5 else (r2, y, z)
            ex = Example(f"{ident}:single", "direct", f"{context} {T.single_hop_prompt(relation, subject)}",
                         T.fact_completion(obj), obj, ident)
        out.append(ex)
    return out
