"""Every task by name: its catalog, how to build its world and datasets, the words its
built-in tokenizer needs, and how to read the first step of a chain-of-thought answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import ExperimentConfig
from ..registry import Registry
from . import math_templates as M
from .catalog import MATH, TWO_HOP, Catalog
from .datasets import Example, build_datasets
from .entities import real_vocabulary
from .math import build_math_datasets, build_math_world
from .templates import TEMPLATE_WORDS, extract_first_hop
from .world import build_world


@dataclass(frozen=True)
class Task:
    name: str
    catalog: Catalog
    build_world: Callable[[ExperimentConfig], Any]  # an object with .entities
    build_datasets: Callable[[Any], dict[str, list[Example]]]
    vocabulary: Callable[[ExperimentConfig], list[str]]
    first_step: Callable[[str], str]  # the bridge a CoT generation states first
    # (name, role, familiar by design) of the test entities, for the familiarity measurement
    probe_entities: Callable[[Any], list[tuple[str, str, bool]]]

    def build(self, cfg: ExperimentConfig) -> tuple[Any, dict[str, list[Example]]]:
        world = self.build_world(cfg)
        return world, self.build_datasets(world)


TASKS: Registry[Task] = Registry("task")
TASKS.register("two_hop")(Task(
    "two_hop", TWO_HOP, lambda cfg: build_world(cfg.world, cfg.seed), build_datasets,
    lambda cfg: [*TEMPLATE_WORDS, *cfg.world.relations, *(real_vocabulary() if cfg.world.names == "real" else [])],
    extract_first_hop, lambda world: [(getattr(c, r), r, getattr(c, r) in world.familiar)
                                      for c in world.group("test") for r in "abc"]))
TASKS.register("math")(Task(
    "math", MATH, lambda cfg: build_math_world(cfg.world, cfg.math, cfg.seed), build_math_datasets,
    lambda cfg: [*M.MATH_WORDS, *M.NUMBERS], M.extract_price,
    lambda world: [(i, "item", world.spec.familiarity in ("H", "R")) for i in world.items("test")]
    + [(b, "buyer", world.spec.familiarity == "R") for b in world.test_buyers]))


def task_of(cfg: ExperimentConfig) -> Task:
    return TASKS.get(cfg.task)
