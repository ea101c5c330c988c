"""Math word problems: the knowledge expert learns prices, the procedure expert a shop's rule
(a fee per bag) the base never saw; the test needs both. World: `world.py`; sets and splits:
`datasets.py`; wording: `templates.py`; the config section `math`: `spec.py` (familiarity
and exposure come from `world`)."""

from __future__ import annotations

from ..base import REFERENCE_ROLE, ProbeEntity, Task
from . import templates as M
from .catalog import MATH
from .spec import MathSpec
from .datasets import build_math_datasets, cot_form, incontext_math_corpus, question_form
from .world import MathWorld, build_math_world


def _world(cfg) -> MathWorld:
    return build_math_world(cfg.world, cfg.math, cfg.seed)


def _vocabulary(cfg) -> list[str]:
    return [*M.MATH_WORDS, *M.NUMBERS]


def _probe_entities(world: MathWorld) -> list[ProbeEntity]:
    """Test items and buyers, and familiar items, each where the text expects one."""
    return ([(i, "item", world.spec.familiarity in ("H", "R"), "A bag of") for i in world.items("test")]
            + [(world.test_shop, "shop", False, "At")]
            + [(b, "buyer", world.spec.familiarity == "R", "Question:") for b in world.test_buyers]
            + [(i, REFERENCE_ROLE, True, "A bag of") for i in world.items("pretrain")])


def _check_config(cfg) -> None:
    if cfg.world.names == "real":
        raise ValueError("world.names real applies to task two_hop only")


TASK = Task(name="math", catalog=MATH, sections=("world", "math"), build_world=_world,
            build_datasets=build_math_datasets, vocabulary=_vocabulary, cot_steps=M.cot_steps,
            probe_entities=_probe_entities, question_form=question_form, cot_form=cot_form,
            incontext=incontext_math_corpus, check_config=_check_config)

__all__ = ["MATH", "MathSpec", "TASK"]
