"""Every recycling method by name: how to build a model from a library of experts."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import PeftModel

from ..errors import UserError
from ..model.load import load_base
from ..registry import Registry
from .arrow import build_arrow_model
from .merge.apply import merge_adapter_dirs
from .merge.methods import MERGE_METHODS


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
    summary: str

    def check_params(self, params: dict, library_size: int) -> None:
        accepted = [p for p in inspect.signature(self.build).parameters if p != "inputs"]
        for key in params:
            if key not in accepted:
                raise UserError(f"method {self.name!r}: unknown parameter {key!r}. Known: {', '.join(accepted) or 'none'}")
        top_k = params.get("top_k", 1)
        if not isinstance(top_k, int) or not 1 <= top_k <= library_size:
            raise UserError(f"method {self.name!r}: top_k={top_k} must be between 1 and the library size {library_size}")


RECYCLERS: Registry[Recycler] = Registry("recycling method")


def _merge_builder(method: str) -> Callable[..., torch.nn.Module]:
    def build(inputs: LibraryInputs) -> torch.nn.Module:
        out = merge_adapter_dirs(inputs.expert_paths, method, inputs.work_dir / method)
        model = PeftModel.from_pretrained(load_base(inputs.base_path), out)
        return model.merge_and_unload().eval()

    return build


for _m in MERGE_METHODS:
    _spec = MERGE_METHODS.get(_m)
    RECYCLERS.register(_m)(Recycler(_m, "data-free", _merge_builder(_m), _spec.summary))


def _arrow(inputs: LibraryInputs, top_k: int = 1, temperature: float = 1.0) -> torch.nn.Module:
    return build_arrow_model(load_base(inputs.base_path), inputs.expert_paths, top_k, temperature, inputs.seed)


RECYCLERS.register("arrow")(Recycler("arrow", "data-free", _arrow, "PEFT Arrow: per-token top-k routing by prototypes"))
