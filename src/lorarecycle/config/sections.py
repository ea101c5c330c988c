"""The sections of an experiment config other than training: the world, the model, LoRA,
prompts, methods, evaluation. Unknown fields are refused."""

from __future__ import annotations

import re
from typing import ClassVar, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator


SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=-]{0,99}")


def safe_name(value: str) -> str:
    """Names that become file names (experiment, library, label): no separator, no '..'."""
    if not SAFE_NAME.fullmatch(value) or ".." in value:
        raise ValueError(f"{value!r} is not a safe name: use letters, digits and _ . + = - "
                         "(at most 100, starting with a letter or digit, no '..')")
    return value


SafeName = Annotated[str, AfterValidator(safe_name)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # NaN/inf never a setting


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
        50, ge=0, description="held-out control chains with the test's relation pair and shape (own entities, both "
        "facts in pretraining once): the matched half of the control")
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


class MathSpec(StrictModel):
    """Sizes of the math word-problem task (familiarity and exposure come from `world`)."""

    n_test_items: int = Field(100, ge=1, description="items whose price only the knowledge expert learns")
    n_fewshot_items: int = Field(10, ge=1, description="items the knowledge expert learns, never tested")
    n_procedure_items: int = Field(60, ge=1, description="items of the procedure expert's problems")
    n_familiar_items: int = Field(80, ge=2, description="items whose prices pretraining teaches")
    problems_per_item: int = Field(3, ge=1, description="problems per procedure / pretraining item")
    control_frac: float = Field(0.25, gt=0, lt=1, description="familiar items held out for the control split")
    control_problems_per_item: int = Field(
        8, ge=1, description="control problems per held-out familiar item, each a different (buyer, count): 8 x 20 "
        "items = 160 at the default sizes, a matched control of >= 150 problems")
    n_buyers: int = Field(20, ge=1, description="buyer names (familiar and test each)")
    max_count: int = Field(9, ge=2, le=9)
    max_price: int = Field(9, ge=2, le=9)

    NOT_PRETRAINED: ClassVar[set[str]] = {"control_problems_per_item"}  # held-out evaluation only

    @model_validator(mode="after")
    def _control_problems_are_distinct(self) -> "MathSpec":
        if self.control_problems_per_item > self.n_buyers * (self.max_count - 1):
            raise ValueError(f"control_problems_per_item {self.control_problems_per_item} exceeds the "
                             f"{self.n_buyers * (self.max_count - 1)} distinct (buyer, count) pairs of an item")
        return self


class ModelSpec(StrictModel):
    base_model: str | None = Field(None, description="local HF causal-LM directory; None = built-in tiny model")
    hidden_size: int = Field(256, ge=2, le=65536)
    num_layers: int = Field(4, ge=1, le=1024)
    num_heads: int = Field(4, ge=1)
    intermediate_size: int = Field(512, ge=1, le=262144)
    max_positions: int = Field(128, ge=8, le=1 << 20)

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> ModelSpec:
        head_dim, rest = divmod(self.hidden_size, self.num_heads)
        if rest or head_dim % 2:  # rotary embeddings rotate pairs of a head's dimensions
            raise ValueError(f"hidden_size {self.hidden_size} must be num_heads ({self.num_heads}) times an even "
                             "head size")
        return self



class LoraSpec(StrictModel):
    r: int = Field(16, ge=1)
    alpha: float = Field(32.0, gt=0, le=1e5, description="scale alpha / r (rsLoRA-size values stay far below 1e5)")
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] | Literal["auto"] = Field(
        "auto", description="module names to adapt; auto = every attention and MLP linear layer of the architecture")

    @field_validator("target_modules")
    @classmethod
    def _nonempty(cls, value):
        if isinstance(value, list) and not value:
            raise ValueError("give at least one module name, or auto")
        return value


class PromptSpec(StrictModel):
    format: Literal["auto", "plain", "chat"] = Field(
        "auto", description="plain text, or the tokenizer's chat template; auto = chat when the tokenizer has one")
    system: str | None = Field(None, description="system message for chat prompts (none by default)")
    shots: int = Field(
        0, ge=0, le=16, description="format demonstrations before each evaluated question: this many examples of "
        "the same kind, from the few-shot chains only (never a test chain); for real LMs that do not know the "
        "answer format (the built-in model is pretrained on it)")


class MethodSpec(StrictModel):
    name: SafeName
    label: SafeName | None = Field(None, description="row name in results; defaults to the method name")
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def row_name(self) -> str:
        return self.label or self.name


class EvalSpec(StrictModel):
    batch_size: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        128, description="sequences per decoding batch; auto = from free memory")
    max_new_tokens_direct: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        12, description="generation budget of direct answers; auto = the split's longest gold completion in the "
        "model's tokens, plus a margin (for tokenizers whose names take many tokens)")
    max_new_tokens_cot: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(48, description="the same for CoT")
    loglik_choices: int = Field(
        0, ge=0, description="also rank the gold answer of direct questions among this many answers of the split by "
        "log-likelihood (generation-free; 0 = off, else >= 2)")

    @field_validator("loglik_choices")
    @classmethod
    def _two_or_more(cls, k: int) -> int:
        if k == 1:
            raise ValueError("loglik_choices must be 0 (off) or at least 2 (the gold answer and one other)")
        return k


