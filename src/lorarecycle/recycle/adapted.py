"""A base model with one PEFT adapter applied, ready to evaluate in the run's precision.

fp32: the adapter is folded in (W + delta W, exact to fp32; the fastest to decode).
bf16: folding would round W + delta W to bf16 and erase the small deltas that averaging
produces, so the base runs in bf16 while the adapter stays unmerged and computes in fp32.
PEFT's unmerged LoRA layer would not do: it casts y + delta back to the base's dtype, which
rounds the same deltas away (tests/test_precision.py), hence `DeltaLinear`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from peft import PeftModel
from torch import nn

from ..adapters.lora_io import read_adapter
from ..errors import UserError
from ..model.load import load_base
from ..model.precision import current_precision
from ..model.targets import ADAPTABLE


class DeltaLinear(nn.Module):
    """A linear layer (nn.Linear or Conv1D) plus scale * B A, computed and added in fp32."""

    def __init__(self, base: nn.Module, A: torch.Tensor, B: torch.Tensor, scale: float):
        super().__init__()
        self.base = base
        self.register_buffer("A", A.float().to(base.weight.device), persistent=False)
        self.register_buffer("B", (scale * B).float().to(base.weight.device), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        with torch.autocast(x.device.type, enabled=False):
            return y + (x.float() @ self.A.T) @ self.B.T


def apply_unmerged(base: nn.Module, adapter_dir: Path) -> nn.Module:
    """Replace every layer the adapter adapts by a DeltaLinear."""
    adapter = read_adapter(adapter_dir)
    for name, module in adapter.modules.items():
        try:
            linear = base.get_submodule(name)
        except AttributeError:
            raise UserError(f"{adapter_dir}: module {name} is not in the base model") from None
        if not isinstance(linear, ADAPTABLE):
            raise UserError(f"{adapter_dir}: module {name} is a {type(linear).__name__}; only nn.Linear and Conv1D "
                            "layers take an unmerged adapter")
        parent, _, attr = name.rpartition(".")
        setattr(base.get_submodule(parent) if parent else base, attr, DeltaLinear(linear, module.A, module.B,
                                                                                   module.scale))
    return base.eval()


def load_adapted(base_path: Path, adapter_dir: Path) -> torch.nn.Module:
    base = load_base(base_path)
    if current_precision() == "fp32":
        return PeftModel.from_pretrained(base, adapter_dir).merge_and_unload().eval()
    return apply_unmerged(base, adapter_dir)
