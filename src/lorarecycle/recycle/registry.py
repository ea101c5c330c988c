"""Every recycling method by name: how to build a model from a library of experts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import PeftModel

from ..errors import UserError
from ..model.load import load_base
from ..registry import Registry
from .arrow import build_arrow_model
from .merge.apply import MergeOptions, merge_adapter_dirs
from .merge.registry import MERGE_METHODS


@dataclass(frozen=True)
class LibraryInputs:
    base_path: Path
    expert_paths: list[Path]
    work_dir: Path  # where the method may write artifacts (e.g. the merged adapter)
    seed: int


@dataclass(frozen=True)
class Recycler:
    name: str
    data_requirement: str  # data-free | few-shot (n) | data-access
    build: Callable[..., torch.nn.Module]  # build(inputs, **params)
    check: Callable[[dict, int], None]  # check(params, library_size), raises UserError
    summary: str


RECYCLERS: Registry[Recycler] = Registry("recycling method")

# Merge options a recycling config may set next to the method's own parameters.
MERGE_OPTION_KEYS = ("rank", "tolerance")


def _merge_recycler(method: str) -> Recycler:
    spec = MERGE_METHODS.get(method)

    def split(params: dict) -> tuple[dict, MergeOptions]:
        options = {k: params[k] for k in MERGE_OPTION_KEYS if k in params}
        return {k: v for k, v in params.items() if k not in MERGE_OPTION_KEYS}, options

    def build(inputs: LibraryInputs, **params) -> torch.nn.Module:
        own, options = split(params)
        out = inputs.work_dir / method
        merge_adapter_dirs(inputs.expert_paths, method, out, params=own, options=MergeOptions(**options, seed=inputs.seed))
        return PeftModel.from_pretrained(load_base(inputs.base_path), out).merge_and_unload().eval()

    def check(params: dict, library_size: int) -> None:
        spec.check_params(split(params)[0])

    return Recycler(method, "data-free", build, check, spec.summary)


for _m in MERGE_METHODS:
    RECYCLERS.register(_m)(_merge_recycler(_m))


def _arrow(inputs: LibraryInputs, top_k: int = 1, temperature: float = 1.0) -> torch.nn.Module:
    return build_arrow_model(load_base(inputs.base_path), inputs.expert_paths, top_k, temperature, inputs.seed)


def _check_arrow(params: dict, library_size: int) -> None:
    for key in params:
        if key not in ("top_k", "temperature"):
            raise UserError(f"method 'arrow': unknown parameter {key!r}. Known: top_k, temperature")
    top_k = params.get("top_k", 1)
    if not isinstance(top_k, int) or not 1 <= top_k <= library_size:
        raise UserError(f"method 'arrow': top_k={top_k} must be between 1 and the library size {library_size}")
    if params.get("temperature", 1.0) <= 0:
        raise UserError("method 'arrow': temperature must be > 0")


RECYCLERS.register("arrow")(Recycler("arrow", "data-free", _arrow, _check_arrow,
                                     "PEFT Arrow: per-token top-k routing by prototypes"))
