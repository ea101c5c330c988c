"""Every task by name: its catalog, how to build its world and datasets, the words its
built-in tokenizer needs, and how to read the steps of a chain-of-thought answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import ExperimentConfig
from ..registry import Registry
from . import math_templates as M
from .catalog import MATH, TWO_HOP, Catalog
from .datasets import Example, build_datasets, chain_forms, cot_form, question_form
from .entities import real_vocabulary
from .incontext import incontext_corpus
from .math import build_math_datasets, build_math_world, incontext_math_corpus
from .math import cot_form as math_cot_form
from .math import question_form as math_question_form
from .recipe_sets import recipe_sets
from .templates import TEMPLATE_WORDS, cot_steps
from .world import build_world


@dataclass(frozen=True)
class Task:
    name: str
    catalog: Catalog
    build_world: Callable[[ExperimentConfig], Any]  # an object with .entities
    build_datasets: Callable[[Any], dict[str, list[Example]]]
    vocabulary: Callable[[ExperimentConfig], list[str]]
    cot_steps: Callable[[str], tuple[str, str, str]]  # (subject, first hop, second hop) a CoT generation states
    # (name, role, familiar by design, context that expects the name) of the test entities and
    # of a familiar reference group, for the familiarity measurement
    probe_entities: Callable[[Any], list[tuple[str, str, bool, str]]]
    question_form: Callable[[Example], Example | None]  # a fact's second surface form (replay recipe)
    cot_form: Callable[[Example], Example | None]  # a fact as a single-hop CoT (replay recipe, cot_form)
    # (world, n, epoch, fixed_layout=False): fresh pretraining sequences over one-off names
    incontext: Callable[..., list[Example]]
    # (world, facts, seed, epoch): each fact as a CoT's second step (replay recipe, chain_form);
    # None where the task's facts are a CoT's first step (math: the price)
    chain_forms: Callable[..., list[Example]] | None = None

    def build(self, cfg: ExperimentConfig) -> tuple[Any, dict[str, list[Example]]]:
        world = self.build_world(cfg)
        datasets = self.build_datasets(world)
        return world, {**datasets, **recipe_sets(datasets, self.catalog, self.question_form, self.cot_form)}


REFERENCE_ROLE = "reference"
N_REFERENCE = 50


def two_hop_probes(world) -> list[tuple[str, str, bool, str]]:
    """Test entities A, B, C and familiar subjects, each where the text expects a subject."""
    spec = world.spec
    context = f"Question: Who is the {spec.hop2_relation} of the {spec.hop1_relation} of"
    subjects = list(dict.fromkeys(f.subject for f in world.graph))[:N_REFERENCE]
    return ([(getattr(c, r), r, getattr(c, r) in world.familiar, context) for c in world.group("test") for r in "abc"]
            + [(s, REFERENCE_ROLE, True, context) for s in subjects])


TASKS: Registry[Task] = Registry("task")
TASKS.register("two_hop")(Task(
    "two_hop", TWO_HOP, lambda cfg: build_world(cfg.world, cfg.seed), build_datasets,
    lambda cfg: [*TEMPLATE_WORDS, *cfg.world.relations, *(real_vocabulary() if cfg.world.names == "real" else [])],
    cot_steps, two_hop_probes,
    question_form, cot_form, incontext_corpus, chain_forms))
TASKS.register("math")(Task(
    "math", MATH, lambda cfg: build_math_world(cfg.world, cfg.math, cfg.seed), build_math_datasets,
    lambda cfg: [*M.MATH_WORDS, *M.NUMBERS], M.cot_steps,
    lambda world: [(i, "item", world.spec.familiarity in ("H", "R"), "A bag of") for i in world.items("test")]
    + [(b, "buyer", world.spec.familiarity == "R", "Question:") for b in world.test_buyers]
    + [(i, REFERENCE_ROLE, True, "A bag of") for i in world.items("pretrain")],
    math_question_form, math_cot_form, incontext_math_corpus))


def task_of(cfg: ExperimentConfig) -> Task:
    return TASKS.get(cfg.task)
