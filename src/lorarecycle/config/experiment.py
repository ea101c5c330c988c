"""One experiment's config, and the content hash saved next to every result."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field, StrictInt, field_validator, model_validator

from ..inputs import SEED_LIMIT
from ..schema import SafeName, StrictModel
from ..tasks import REFERENCES, TASKS
from ..tasks.math import MathSpec
from ..tasks.two_hop import WorldSpec
from .sections import EvalSpec, LoraSpec, MethodSpec, ModelSpec, PromptSpec
from .training import ExpertTrainSpec, FullFineTuneSpec, PretrainSpec


# one or two methods per family (every method: preset all-methods)
DEFAULT_METHODS = (
    MethodSpec(name="uniform_factors"), MethodSpec(name="uniform_delta"),  # data-free merges
    MethodSpec(name="ties", params={"density": 0.2}), MethodSpec(name="knots", params={"merge": "ties", "density": 0.2}),
    MethodSpec(name="arrow", params={"top_k": 1}),  # data-free routing
    MethodSpec(name="arrow", label="arrow_top2", params={"top_k": 2}), MethodSpec(name="mixture"),
    MethodSpec(name="select_arrow"),
    MethodSpec(name="select_retriever", params={"shots": 5}),  # few-shot
    MethodSpec(name="lorahub", params={"space": "factors", "shots": 10, "budget": 40}),
)


class ExperimentConfig(StrictModel):
    """One experiment. The class defaults are the default experiment (`--preset default`,
    what `make run` runs); presets and files override them."""

    name: SafeName = "default"
    seed: StrictInt = Field(0, ge=0, lt=SEED_LIMIT, description="every stage's seed derives from it")
    task: str = Field("two_hop", description="a registered task: two_hop, math (tasks/<name>/)")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="compute precision of training, decoding and LoraHub; auto = fp32 on every CPU (the "
        "same numbers everywhere; run.json says when bf16 would train faster), bf16 on CUDA with bf16")
    world: WorldSpec = WorldSpec()
    math: MathSpec = MathSpec()
    model: ModelSpec = ModelSpec()
    pretrain: PretrainSpec = PretrainSpec(epochs=20, lr=1e-3, batch_size=32, incontext_loss="answer")
    experts: ExpertTrainSpec = ExpertTrainSpec(epochs=40, lr=1e-3, batch_size=16)
    lora: LoraSpec = LoraSpec()
    libraries: dict[SafeName, list[str]] = Field(
        default_factory=dict, description="library name -> experts; a list of the task's built-in names "
        "(two_hop: two, three; math: two) also works; empty = the task's built-in libraries")
    methods: list[MethodSpec] = Field(default_factory=lambda: list(DEFAULT_METHODS))
    references: list[Literal[REFERENCES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["union_replay", "full_ft_replay", "union_demos", "target_expert"],
        description=f"data-access references: {', '.join(REFERENCES)}")
    full_ft: FullFineTuneSpec | None = Field(
        None, description="full fine-tuning reference; None = the experts' settings")
    full_ft_replay: FullFineTuneSpec = Field(
        FullFineTuneSpec(),
        description="full fine-tuning with replay at its own, lower learning rate (reference full_ft_replay)")
    eval: EvalSpec = EvalSpec()
    prompt: PromptSpec = PromptSpec()

    @field_validator("task")
    @classmethod
    def _task_registered(cls, value: str) -> str:
        if value not in TASKS:
            raise ValueError(TASKS.unknown_message(value))
        return value

    @model_validator(mode="before")
    @classmethod
    def _builtin_libraries(cls, data: Any) -> Any:
        """Libraries given by built-in name (or not at all) become the task's mappings."""
        if not isinstance(data, dict):
            return data
        task = data.get("task", "two_hop")
        catalog = TASKS.get(task).catalog if isinstance(task, str) and task in TASKS else None
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
        experts_known = TASKS.get(self.task).catalog.library_experts
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
    def _task_can_run_it(self) -> "ExperimentConfig":
        TASKS.get(self.task).check_config(self)
        return self

    @model_validator(mode="after")
    def _distillation_needs_an_adapter(self) -> "ExperimentConfig":
        # the reference of replay_kl is the model with its adapter switched off: a full
        # fine-tune would need a second, frozen copy of the base
        specs = {"full_ft": (self.full_ft or self.experts, "full_ft" if self.full_ft else "experts"),
                 "full_ft_replay": (self.full_ft_replay, "full_ft_replay")}  # full_ft_replay always replays
        for name, (spec, field) in specs.items():
            replays = spec.replays or name == "full_ft_replay"
            if name in self.references and replays and spec.replay_kl > 0:
                raise ValueError(f"{field}.replay_kl: only adapters take it (its reference is the base with the "
                                 f"adapter off), and reference {name} fine-tunes the whole model")
        return self

    @model_validator(mode="after")
    def _labels_unique(self) -> "ExperimentConfig":
        labels = [m.row_name for m in self.methods]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"method labels must be unique; repeated: {', '.join(dupes)}")
        return self

    def config_hash(self) -> str:
        """Hash of the sections the run uses: the sections only other tasks read are left out
        (a two-hop run does not read `math`, so a change of the math defaults must not break
        its resume)."""
        own = set(TASKS.get(self.task).sections)
        others = {s for name in TASKS for s in TASKS.get(name).sections} - own
        return stable_hash(self.model_dump(mode="json", exclude=others or None))


def stable_hash(obj: Any, length: int = 12) -> str:
    """Content hash of a JSON-serialisable object (key order does not matter)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:length]

