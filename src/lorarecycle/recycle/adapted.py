"""A base model with one PEFT adapter applied, ready to evaluate in the run's precision.

fp32: the adapter is folded in (W + delta W, exact to fp32; the fastest to decode).
bf16: folding would round W + delta W to bf16 and can erase the small deltas that
averaging produces, so the base runs in bf16 while the adapter stays unmerged and
computes in fp32 (a one-expert RoutedLinear with fixed weight 1).
"""

from __future__ import annotations

from pathlib import Path

import torch
from peft import PeftModel

from ..model.load import load_base
from ..model.precision import current_precision
from .routing.layer import Router
from .routing.model import build_routed_model


def load_adapted(base_path: Path, adapter_dir: Path) -> torch.nn.Module:
    base = load_base(base_path)
    if current_precision() == "fp32":
        return PeftModel.from_pretrained(base, adapter_dir).merge_and_unload().eval()
    router = Router(1, mode="fixed", weights=torch.ones(1))
    return build_routed_model(base, [adapter_dir], [Path(adapter_dir).name], router)
