"""The recycling-method contract: how to build a model from a library of experts.

Register methods on RECYCLERS (merge methods through `merge.methods.merge_method`); import it
from `.build`, which imports every method file."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import torch
from pydantic import BaseModel, Field

from ..errors import UserError
from ..registry import Registry
from ..tasks.example import Example
from .contract import describe, signature_model, validate_params


@dataclass(frozen=True)
class LibraryInputs:
    base_path: Path
    expert_paths: list[Path]
    expert_names: list[str]
    work_dir: Path  # where the method may write artifacts (a merged adapter, search history)
    seed: int
    datasets: Mapping[str, list[Example]] = field(default_factory=dict)  # few-shot material
    general_paths: list[Path] = field(default_factory=list)  # general-knowledge experts (GenKnowSub)
    fewshot_sources: Mapping[str, str] = field(default_factory=dict)  # expert -> its few-shot inputs
    fewshot_examples: str = "fewshot_twohop"  # the task's few-shot examples (LoraHub's default)


KINDS = ("merge", "route", "select", "search")  # one adapter built | per token | per query | searched with data


@dataclass(frozen=True)
class Recycler:
    """A recycling method: how to build a model from a library of experts. Merge methods
    (`merge` set: the merge function's spec) build one adapter from the library; the others
    build their model with `build`. One registry, RECYCLERS, holds every kind."""

    name: str
    build: Callable[..., torch.nn.Module] | None  # build(inputs, *, **params): its keyword-only arguments are the contract
    summary: str
    kind: str  # one of KINDS
    reference_url: str = ""  # the paper or documentation the method follows
    access: str = "data-free"  # what it needs beyond the adapters: data-free | few-shot (results.DATA_ACCESS)
    requirement: Callable[[dict], str] = lambda params: "data-free"  # (params with defaults) -> its display label
    extra_experts: Callable[[dict], tuple[str, ...]] = lambda params: ()  # experts it needs beyond the library
    example_sets: Callable[[dict], tuple[str, ...]] = lambda params: ()  # datasets it reads few-shot examples from
    reads_expert_examples: bool = False  # reads each expert's own few-shot set (the catalog's fewshot_sources)
    routes: bool = False  # builds a RoutedModel (gets a routing trace)
    limits: Callable[[dict, int], str | None] = lambda params, library_size: None  # library-dependent rule: the problem
    contract: type[BaseModel] | None = None  # the parameters, if not `build`'s own keyword-only arguments
    merge: Any = None  # a merge method's MergeMethod (merge/methods.py), None for the other kinds

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"recycling method {self.name!r}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.access not in ("data-free", "few-shot"):
            raise ValueError(f"recycling method {self.name!r}: access {self.access!r} is not data-free or few-shot")
        if (self.kind == "merge") != (self.merge is not None) or (self.build is None) != (self.kind == "merge"):
            raise ValueError(f"recycling method {self.name!r}: a merge has a merge spec and no build of its own")

    @cached_property
    def param_model(self) -> type[BaseModel]:
        return self.contract or signature_model(self.name, self.build)

    def with_defaults(self, params: dict) -> dict:
        return {**{k: f.default for k, f in self.param_model.model_fields.items()}, **params}

    def data_requirement(self, params: dict) -> str:
        return self.requirement(self.with_defaults(params))

    def describe_params(self) -> list[str]:
        return describe(self.param_model)

    def check(self, params: dict, library_size: int) -> dict:
        """`params` validated (defaults filled in) for a library of `library_size` experts,
        or one UserError naming the method and the parameter."""
        validated = validate_params(f"method {self.name!r}", self.param_model, params)
        problem = self.limits(validated, library_size)
        if problem:
            raise UserError(f"method {self.name!r}: {problem}")
        return validated


RECYCLERS: Registry[Recycler] = Registry("recycling method")
MERGE_METHODS = RECYCLERS.view("merge method", lambda method: method.merge)  # what `lorarecycle merge` offers

# Parameter types shared by several methods (annotations are the contract, see contract.py).
Shots = Annotated[int, Field(ge=1, description="few-shot examples")]
Temperature = Annotated[float, Field(gt=0, description="softmax temperature")]


def at_most_library(name: str) -> Callable[[dict, int], str | None]:
    def limit(params: dict, library_size: int) -> str | None:
        if params[name] > library_size:
            return f"{name}={params[name]} must be between 1 and the library size {library_size}"
        return None
    return limit
