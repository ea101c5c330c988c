"""The two-hop task's config section, `world`: familiarity, exposure, sizes and relations.
The math task reads its familiarity, exposure and name fields too."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ...schema import StrictModel


class WorldSpec(StrictModel):
    familiarity: Literal["F", "H", "R"] = Field("F", description="F fictional, H hybrid (A familiar), R real/familiar")
    exposure: float = Field(0.0, ge=0.0, le=1.0, description="fraction of test chains whose facts are in pretraining")
    exposure_hop: Literal["both", "hop1", "hop2"] = Field(
        "both", description="which facts of an exposed test chain pretraining holds (hop1/hop2: one familiar, one new)")
    n_test_chains: int = Field(150, ge=1, description="the experts' chains (hop-1/hop-2 facts, two-hop tests)")
    n_skill_chains: int = Field(60, ge=1, description="other chains for the two-hop-skill expert")
    n_fewshot_chains: int = Field(20, ge=1, description="chains the experts learn but never tested: few-shot material")
    n_familiar: int = Field(200, ge=2, description="entities of the pretraining knowledge graph")
    facts_per_entity: int = Field(2, ge=1, description="facts (distinct relations) per familiar entity")
    n_pretrain_paths: int = Field(400, ge=1, description="two-hop paths asked in pretraining (direct and CoT)")
    n_control_paths: int = Field(100, ge=1, description="held-out two-hop paths of the knowledge graph (any relations)")
    n_control_matched: int = Field(
        150, ge=1, description="control chains with the test's relation pair and shape (own entities, both facts in "
        "pretraining once), asked of the base by CoT: Gate 0's matched control (150: Wilson half-width <= 0.08)")
    n_incontext: int = Field(
        1200, ge=0, description="pretraining sequences per epoch (fresh each epoch) over one-off names that state facts "
        "in context and ask single-hop and two-hop questions about them (direct and CoT): meant to teach the "
        "procedure for new names; 0 = none (measured: at 600-900 per epoch for 24-30 epochs the default model "
        "learned no copying and lost control CoT, see README)")
    n_retention: int = Field(100, ge=1, description="pretraining facts asked directly after training (retention)")
    name_words: int = Field(2, ge=1, le=2, description="words per entity name (2 syllables, i.e. 2 tokens, each)")
    names: Literal["fictional", "real"] = Field(
        "fictional", description="familiar chain entities: fictional syllable names, or real, widely known "
        "entities (people, cities, organisations) that a real pretrained LM already knows")
    relations: list[str] = ["mentor", "employer", "neighbor", "rival", "landlord", "doctor"]
    hop1_relation: str = "mentor"
    hop2_relation: str = "employer"

    @model_validator(mode="after")
    def _relations_valid(self) -> "WorldSpec":
        if len(set(self.relations)) != len(self.relations) or len(self.relations) < 3:
            raise ValueError("relations must be at least 3 distinct words")
        if not all(r.isalpha() and r.islower() for r in self.relations):
            raise ValueError("relations must be single lowercase words")
        for field in ("hop1_relation", "hop2_relation"):
            if getattr(self, field) not in self.relations:
                raise ValueError(f"{field} {getattr(self, field)!r} is not in relations")
        if self.hop1_relation == self.hop2_relation:
            raise ValueError("hop1_relation and hop2_relation must differ")
        if self.facts_per_entity > len(self.relations):
            raise ValueError("facts_per_entity cannot exceed the number of relations")
        paths = self.n_familiar * self.facts_per_entity**2
        if self.n_pretrain_paths + self.n_control_paths > paths:
            raise ValueError(f"n_pretrain_paths + n_control_paths exceeds the {paths} two-hop paths of the graph")
        return self
