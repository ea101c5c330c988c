"""The recycling-method contract: how to build a model from a library of experts.

Register methods on RECYCLERS; import it from `.registry`, which imports every method file."""

from __future__ import annotations

import math

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import UserError
from ..registry import Registry
from ..tasks.datasets import Example


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


@dataclass(frozen=True)
class Recycler:
    name: str
    build: Callable[..., torch.nn.Module]  # build(inputs, **params)
    check: Callable[[dict, int], None]  # check(params, library_size), raises UserError
    summary: str
    requirement: Callable[[dict], str] = lambda params: "data-free"  # data-free | few-shot (n) | data-access
    extra_experts: Callable[[dict], tuple[str, ...]] = lambda params: ()  # experts it needs beyond the library
    example_sets: Callable[[dict], tuple[str, ...]] = lambda params: ()  # datasets it reads few-shot examples from
    routes: bool = False  # builds a RoutedModel (gets a routing trace)


RECYCLERS: Registry[Recycler] = Registry("recycling method")


def check_params(method: str, params: dict, rules: dict[str, tuple[Callable[[object], bool], str]]) -> None:
    """rules: {name: (is_valid(value), what a valid value is)}; unknown names are rejected."""
    for key, value in params.items():
        if key not in rules:
            raise UserError(f"method {method!r}: unknown parameter {key!r}. Known: {', '.join(rules) or 'none'}")
        valid, what = rules[key]
        if not valid(value):
            raise UserError(f"method {method!r}: {key}={value!r} must be {what}")


def is_int(lo: int, hi: int | None = None) -> Callable[[object], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= lo and (hi is None or v <= hi)


def is_number(lo: float, hi: float | None = None, open_low: bool = False) -> Callable[[object], bool]:
    return lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                      and (v > lo if open_low else v >= lo) and (hi is None or v <= hi))


def one_of(*choices: object) -> Callable[[object], bool]:
    return lambda v: v in choices
