"""Two-hop reasoning over a fictional (or real-named) world: expert 1 learns r1(A)=B, expert 2
learns r2(B)=C, the test asks r2(r1(A)). World: `world.py`; sets and splits: `datasets.py`;
wording: `templates.py`; the config section `world`: `spec.py`."""

from __future__ import annotations

from ..base import N_REFERENCE, REFERENCE_ROLE, ProbeEntity, Task
from ..text import TEMPLATE_WORDS
from .catalog import TWO_HOP
from .datasets import build_datasets, chain_forms, cot_form, question_form
from .entities import real_vocabulary
from .incontext import incontext_corpus
from .spec import WorldSpec
from .templates import cot_steps
from .world import World, build_world


def _world(cfg) -> World:
    return build_world(cfg.world, cfg.seed)


def _vocabulary(cfg) -> list[str]:
    return [*TEMPLATE_WORDS, *cfg.world.relations, *(real_vocabulary() if cfg.world.names == "real" else [])]


def _probe_entities(world: World) -> list[ProbeEntity]:
    """Test entities A, B, C and familiar subjects, each where the text expects a subject."""
    spec = world.spec
    context = f"Question: Who is the {spec.hop2_relation} of the {spec.hop1_relation} of"
    subjects = list(dict.fromkeys(f.subject for f in world.graph))[:N_REFERENCE]
    return ([(getattr(c, r), r, getattr(c, r) in world.familiar, context) for c in world.group("test") for r in "abc"]
            + [(s, REFERENCE_ROLE, True, context) for s in subjects])


TASK = Task(name="two_hop", catalog=TWO_HOP, sections=("world",), build_world=_world, build_datasets=build_datasets,
            vocabulary=_vocabulary, cot_steps=cot_steps, probe_entities=_probe_entities, question_form=question_form,
            cot_form=cot_form, incontext=incontext_corpus, chain_forms=chain_forms)

__all__ = ["TASK", "TWO_HOP", "WorldSpec"]
