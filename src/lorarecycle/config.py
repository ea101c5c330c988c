"""Experiment configuration: pydantic models with unknown fields forbidden.

One YAML per experiment; presets live in `presets/*.yaml`. The resolved config and its
hash are saved next to every result.
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources
from pathlib import Path
from typing import ClassVar, Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import UserError, invalid
from .tasks.catalog import CATALOGS, REFERENCES

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
        0, ge=0, description="pretraining sequences per epoch (fresh each epoch) over one-off names that state facts "
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


class TrainSpec(StrictModel):
    epochs: int = Field(ge=1)
    lr: float = Field(gt=0)
    batch_size: int = Field(32, ge=1)
    micro_batch_size: int | None = Field(
        None, ge=1, description="split each batch into chunks of this size (gradient accumulation, same update)")
    weight_decay: float = Field(0.0, ge=0)
    warmup_frac: float = Field(0.05, ge=0, le=1)
    stop_loss: float | None = Field(None, gt=0, description="stop once an epoch's mean loss falls below this")

    # fields added after runs were published: at these values they are left out of every
    # hash (config, cached base), so those runs and caches still resume (their behaviour is the value's)
    HASH_NEUTRAL: ClassVar[dict[str, object]] = {}

    def hashed(self) -> dict:
        """The dump that hashes read: fields at their hash-neutral value left out."""
        dump = self.model_dump(mode="json")
        return {k: v for k, v in dump.items() if k not in self.HASH_NEUTRAL or v != self.HASH_NEUTRAL[k]}


class PretrainSpec(TrainSpec):
    """Pretraining of the built-in model."""

    pack_facts: int = Field(
        1, ge=1, le=4, description="facts of the pretraining corpus joined per sequence, in new groups every epoch, "
        "so a fact is read after other text, not only at a sequence start (the other texts stay whole)")
    HASH_NEUTRAL: ClassVar[dict[str, object]] = {**TrainSpec.HASH_NEUTRAL, "pack_facts": 1, "cot_form": False,
                                                 "chain_form": False}

    cot_form: bool = Field(False, description="each pretraining fact also as a single-hop chain of thought, so the "
                           "base recalls its facts where a chain of thought asks for them, not only at a sequence start")
    chain_form: bool = Field(
        False, description="two-hop task: each pretraining fact also as the second step of a two-hop chain of thought "
        "after an invented first step about a one-off name, new every epoch, given as context (no loss on it)")

    layout_warmup_steps: int = Field(
        0, ge=0, description="steps of fixed-layout in-context sequences (the test's relation pair, facts in chain "
        "order, then the CoT question; fresh names) before the main corpus: the first stage of a curriculum that "
        "teaches restating a new name (with world.n_incontext > 0 for the second stage); 0 = none")


class ExpertTrainSpec(TrainSpec):
    """Training of an adapter or fine-tune on new knowledge."""

    recipe: Literal["plain", "replay"] = Field(
        "replay", description="plain: own examples, answer-only loss (the ablation); replay: each fact also in its "
        "question form, loss on the full sequence, plus replayed pretraining examples")
    replay_ratio: float = Field(1.0, ge=0, le=100, description="replayed pretraining examples per own example (replay)")
    stop_recall: float | None = Field(
        0.98, gt=0, le=1, description="stop at the first check where exact-match recall of a sample of the own "
        "examples reaches this (None: run every epoch); retention and control CoT are recorded at each check")
    check_every: int = Field(5, ge=1, description="epochs between held-out checks")
    pack: int = Field(1, ge=1, le=4, description="replay recipe: own examples (and question forms) joined per "
                      "training sequence, so facts are also learned after other text, not only at a sequence start")

    cot_form: bool = Field(False, description="replay recipe (plain ignores it): each fact also as a single-hop chain "
                           "of thought ('Question: Who is the r of X? Reasoning: The r of X is Y. So the answer is Y.'), "
                           "so it is trained where a chain of thought recalls it, not only at a sequence start")

    chain_form: bool = Field(False, description="replay recipe, two-hop task, plain prompts: each fact also as the "
                             "second step of a two-hop chain of thought whose first step is a fact about a one-off name, "
                             "new every epoch ('... Reasoning: The r of X is A. The r2 of A is B. So the answer is B.'), "
                             "so a fact is trained after a reasoning step that ends in its subject")

    chain_first: Literal["other", "unused"] = Field(
        "other", description="chain_form's invented first step: any relation but the fact's own (other), or only "
        "relations none of the adapter's own facts use (unused), so it never states a competing fact in an own relation; "
        "read only with chain_form")

    chain_loss: Literal["all", "second_step"] = Field(
        "all", description="chain_form's loss: every token a target, as the replay recipe (all), or only the second "
        "step and the answer (second_step: the question and the invented first step are context), so the bridge is "
        "never trained as the object of a chain of thought's first step; read only with chain_form")

    HASH_NEUTRAL: ClassVar[dict[str, object]] = {**TrainSpec.HASH_NEUTRAL, "pack": 1, "cot_form": False,
                                                 "chain_form": False, "chain_first": "other", "chain_loss": "all"}

    def hashed(self) -> dict:
        # pack > 1 drew fixed groups until its groups became new every epoch: a run directory
        # of the old scheme must not resume into the new one
        dump = super().hashed()
        if self.recipe == "plain":  # a preset's CoT forms do not reach plain: the same run either way
            dump.pop("cot_form", None)
            dump.pop("chain_form", None)
        if self.recipe == "plain" or not self.chain_form:  # chain_form's shape, read only with chain forms
            dump.pop("chain_first", None)
            dump.pop("chain_loss", None)
        return dump | ({"pack_groups": "every epoch"} if self.pack > 1 else {})

    @model_validator(mode="after")
    def _pack_needs_replay(self) -> "ExpertTrainSpec":
        if self.pack > 1 and self.recipe != "replay":
            raise ValueError("pack joins examples whose every token is a target: it needs recipe: replay")
        if self.cot_form and self.pack > 1:
            # measured: packed with the CoT forms, 3 union sequences of 4 exceed the built-in model's 128 positions
            raise ValueError("cot_form with pack > 1 joins CoT forms into sequences longer than the model's "
                             "positions: set one of them off (cot_form: false or pack: 1)")
        if self.chain_form and self.pack > 1:
            raise ValueError("chain_form and pack > 1 both draw new material every epoch: set one of them off")
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


class ExperimentConfig(StrictModel):
    name: SafeName = "default"
    seed: int = 0
    task: Literal["two_hop", "math"] = "two_hop"
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="compute precision of training, decoding and LoraHub; auto = bf16 only where "
        "measured faster (CUDA with bf16; a CPU whose matmul probe shows bf16 beating fp32)")
    world: WorldSpec = WorldSpec()
    math: MathSpec = MathSpec()
    model: ModelSpec = ModelSpec()
    pretrain: PretrainSpec = PretrainSpec(epochs=30, lr=1e-3, batch_size=32)
    experts: ExpertTrainSpec = ExpertTrainSpec(epochs=40, lr=2e-3, batch_size=16)
    lora: LoraSpec = LoraSpec()
    libraries: dict[SafeName, list[str]] = Field(
        default_factory=dict, description="library name -> experts; a list of the task's built-in names "
        "(two_hop: two, three; math: two) also works; empty = the task's built-in libraries")
    methods: list[MethodSpec] = Field(default_factory=list)
    references: list[Literal[REFERENCES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["union"], description=f"data-access references: {', '.join(REFERENCES)}")
    full_ft: ExpertTrainSpec | None = Field(None, description="full fine-tuning reference; None = the experts' settings")
    full_ft_replay: ExpertTrainSpec = Field(
        ExpertTrainSpec(epochs=30, lr=1e-4, batch_size=16, recipe="replay"),
        description="full fine-tuning with replay at its own, lower learning rate (reference full_ft_replay)")
    eval: EvalSpec = EvalSpec()
    prompt: PromptSpec = PromptSpec()

    @model_validator(mode="before")
    @classmethod
    def _builtin_libraries(cls, data: Any) -> Any:
        """Libraries given by built-in name (or not at all) become the task's mappings."""
        if not isinstance(data, dict):
            return data
        catalog = CATALOGS.get(data.get("task", "two_hop"))
        value = data.get("libraries")
        if catalog is None or not (value is None or isinstance(value, list) or value == {}):
            return data
        names = value or list(catalog.libraries)
        unknown = [v for v in names if v not in catalog.libraries]
        if unknown:
            raise ValueError(f"libraries: unknown library {unknown[0]!r}; built-in: {', '.join(catalog.libraries)} "
                             "(or give a mapping name: [experts])")
        return {**data, "libraries": {v: list(catalog.libraries[v]) for v in names}}

    @model_validator(mode="after")
    def _libraries_valid(self) -> "ExperimentConfig":
        experts_known = CATALOGS[self.task].library_experts
        for name, experts in self.libraries.items():
            if not experts:
                raise ValueError(f"libraries: library {name!r} is empty")
            for expert in experts:
                if expert not in experts_known:
                    raise ValueError(f"libraries: library {name!r} names expert {expert!r}, which does not exist; "
                                     f"experts of task {self.task}: {', '.join(experts_known)}")
            if len(set(experts)) != len(experts):
                raise ValueError(f"libraries: library {name!r} lists an expert twice")
        return self

    @model_validator(mode="after")
    def _real_names_two_hop_only(self) -> "ExperimentConfig":
        if self.world.names == "real" and self.task != "two_hop":
            raise ValueError("world.names real applies to task two_hop only")
        return self

    @model_validator(mode="after")
    def _labels_unique(self) -> "ExperimentConfig":
        labels = [m.row_name for m in self.methods]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"method labels must be unique; repeated: {', '.join(dupes)}")
        return self

    def config_hash(self) -> str:
        """Hash of the sections the run uses: a two-hop run does not read `math`, so a change
        of the math defaults must not break its resume."""
        dump = self.model_dump(mode="json", exclude={"math"} if self.task != "math" else None)
        return stable_hash(dump | {name: spec.hashed() for name in type(self).model_fields
                                   if isinstance(spec := getattr(self, name), TrainSpec)})


def stable_hash(obj: Any, length: int = 12) -> str:
    """Content hash of a JSON-serialisable object (key order does not matter)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("lorarecycle.presets").iterdir() if p.name.endswith(".yaml"))


def preset_mapping(name: str) -> dict:
    """A preset's raw YAML mapping (an experiment, or a grid when it has `axes`)."""
    if name not in preset_names():
        raise UserError(f"unknown preset {name!r}. Available: {', '.join(preset_names())}")
    return yaml.safe_load(resources.files("lorarecycle.presets").joinpath(f"{name}.yaml").read_text()) or {}


def load_preset(name: str) -> ExperimentConfig:
    return validate_experiment(preset_mapping(name), f"preset {name}")


def read_mapping(path: Path) -> dict:
    """A YAML file's top-level mapping, with one-line errors naming the file."""
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise UserError(f"{path}: cannot read config ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise UserError(f"{path}:{where} malformed YAML ({getattr(err, 'problem', err)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: the config must be a YAML mapping")
    return data


def load_config(path: Path) -> ExperimentConfig:
    return validate_experiment(read_mapping(path), str(path))


def validate_experiment(data: Any, source: str) -> ExperimentConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{source}: the config must be a YAML mapping")
    data = dict(data)
    preset = data.pop("preset", None)
    if preset is not None:
        base = load_preset(preset).model_dump(mode="json")
        data = _deep_merge(base, data)
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as err:
        raise invalid(source, err) from None


# Mappings an override replaces as a whole (a user's libraries do not add to the preset's).
REPLACED_KEYS = ("libraries",)


def _deep_merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in REPLACED_KEYS:
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def set_base_model(mapping: dict, base_model: Path) -> dict:
    """A config mapping with model.base_model set (the --base-model flag)."""
    model = dict(mapping.get("model") or {})
    model["base_model"] = str(Path(base_model).resolve())
    return {**mapping, "model": model}
