"""Every merge method as a recycler: merge the library into one PEFT adapter, fold it in."""

from __future__ import annotations

import torch
from pydantic import create_model

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

    if not spec.takes_output_rank:  # the method sets its own rank: its parameters are the whole contract
        return Recycler(method, build, spec.summary, contract=spec.param_model)
    # the method's own parameters next to the output options, in one strict model; svd's own
    # `rank` is left to the output rank (exact, see apply)
    own_fields = {name: (f.annotation, f) for name, f in spec.param_model.model_fields.items()
                  if name not in MERGE_OPTION_KEYS}
    contract = create_model(f"{method}_recycler_params", __base__=OutputOptions, **own_fields)
    return Recycler(method, build, spec.summary, contract=contract)


for _m in MERGE_METHODS:
    RECYCLERS.register(_m)(_merge_recycler(_m))
