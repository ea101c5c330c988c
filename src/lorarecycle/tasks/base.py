"""What a task is: its catalog (splits by role, experts, libraries, legend), the config
sections it reads, and how to build its world and datasets, the words its built-in
tokenizer needs and how to read the steps of a chain-of-thought answer. Each task package
builds one `Task`; `tasks/__init__.py` registers it by name.

`cfg` below is the experiment config (`lorarecycle.config.ExperimentConfig`); the config
layer sits above the tasks (it reads their sections and catalogs), so it is not imported."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .catalog import Catalog
from .example import Example
from .recipe_sets import recipe_sets

# (name, role, familiar by design, context that expects the name): one entity the
# familiarity measurement scores
ProbeEntity = tuple[str, str, bool, str]
REFERENCE_ROLE = "reference"  # the familiar reference group of the familiarity measurement
N_REFERENCE = 50


def _no_config_check(cfg: Any) -> None:
    return None


@dataclass(frozen=True)
class Task:
    name: str
    catalog: Catalog
    # the config sections its world reads: hashed with its base model and its results; the
    # sections only other tasks read are left out of its hashes
    sections: tuple[str, ...]
    build_world: Callable[[Any], Any]  # cfg -> an object with .entities
    build_datasets: Callable[[Any], dict[str, list[Example]]]  # world -> every set and split by name
    vocabulary: Callable[[Any], list[str]]  # cfg -> the words the built-in tokenizer keeps whole
    cot_steps: Callable[[str], tuple[str, str, str]]  # (subject, first hop, second hop) a CoT generation states
    probe_entities: Callable[[Any], list[ProbeEntity]]  # world -> test entities and a familiar reference group
    question_form: Callable[[Example], Example | None]  # a fact's second surface form (replay recipe)
    cot_form: Callable[[Example], Example | None]  # a fact as a single-hop CoT (replay recipe, cot_form)
    # (world, n, epoch, fixed_layout=False): fresh pretraining sequences over one-off names
    incontext: Callable[..., list[Example]]
    # (world, facts, seed, epoch): each fact as a CoT's second step (replay recipe, chain_form);
    # None where the task's facts are a CoT's first step (math: the price)
    chain_forms: Callable[..., list[Example]] | None = None
    check_config: Callable[[Any], None] = _no_config_check  # cfg -> raise ValueError on a setting it cannot run

    def build(self, cfg: Any) -> tuple[Any, dict[str, list[Example]]]:
        world = self.build_world(cfg)
        datasets = self.build_datasets(world)
        return world, {**datasets, **recipe_sets(datasets, self.catalog, self.question_form, self.cot_form)}

    def pretraining_sections(self, cfg: Any) -> dict[str, Any]:
        """Its sections as the base model's key reads them: without the fields a section marks
        as read by evaluation only (`NOT_PRETRAINED`)."""
        sections = {s: getattr(cfg, s) for s in self.sections}
        return {s: v.model_dump(mode="json", exclude=getattr(v, "NOT_PRETRAINED", None)) for s, v in sections.items()}
