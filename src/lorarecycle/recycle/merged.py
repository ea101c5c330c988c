"""How an experiment builds a merge method's model: merge the library into one PEFT adapter,
then fold it into the base (`adapted.load_adapted`)."""

from __future__ import annotations

import torch

from .adapted import load_adapted
from .merge.apply import MergeOptions, merge_adapter_dirs
from .merge.methods import MERGE_OPTION_KEYS
from .recycler import LibraryInputs, Recycler


def build_merged(method: Recycler, inputs: LibraryInputs, **params) -> torch.nn.Module:
    own = {k: v for k, v in params.items() if k not in MERGE_OPTION_KEYS}
    options = {k: params[k] for k in MERGE_OPTION_KEYS if k in params}
    out = inputs.work_dir / method.name
    merge_adapter_dirs(inputs.expert_paths, method.name, out, params=own, options=MergeOptions(**options, seed=inputs.seed))
    return load_adapted(inputs.base_path, out)

