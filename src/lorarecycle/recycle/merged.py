"""Every merge method as a recycler: merge the library into one PEFT adapter, fold it in."""

from __future__ import annotations

import torch
from pydantic import ValidationError

from ..errors import invalid
from .adapted import load_adapted
from .merge.apply import MergeOptions, merge_adapter_dirs
from .merge.params import OutputOptions
from .merge.registry import MERGE_METHODS
from .recycler import RECYCLERS, LibraryInputs, Recycler

# Merge options a recycling config may set next to the method's own parameters.
MERGE_OPTION_KEYS = ("rank", "tolerance")


def _split(params: dict) -> tuple[dict, dict]:
    options = {k: params[k] for k in MERGE_OPTION_KEYS if k in params}
    return {k: v for k, v in params.items() if k not in MERGE_OPTION_KEYS}, options


def _merge_recycler(method: str) -> Recycler:
    spec = MERGE_METHODS.get(method)

    def build(inputs: LibraryInputs, **params) -> torch.nn.Module:
        own, options = _split(params)
        out = inputs.work_dir / method
        merge_adapter_dirs(inputs.expert_paths, method, out, params=own, options=MergeOptions(**options, seed=inputs.seed))
        return load_adapted(inputs.base_path, out)

    def check(params: dict, library_size: int) -> None:
        own, options = _split(params)
        spec.check_params(own)
        try:
            OutputOptions.model_validate(options)
        except ValidationError as err:
            raise invalid(f"method {method!r}", err, what="parameter") from None

    return Recycler(method, build, check, spec.summary)


for _m in MERGE_METHODS:
    RECYCLERS.register(_m)(_merge_recycler(_m))
