"""Read PEFT LoRA adapters into per-module factors, and write factors back as PEFT adapters.

Only `adapter_config.json` + `adapter_model.safetensors` are read: pickled `.bin`
adapters are refused, never unpickled.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..artifacts import atomic_dir, write_json
from ..errors import UserError
from ..inputs import read_json_object

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"


@dataclass(frozen=True)
class LoraModule:
    """One adapted linear layer: delta W = scale * B @ A, A (r, d_in), B (d_out, r)."""

    A: torch.Tensor
    B: torch.Tensor
    scale: float

    @property
    def rank(self) -> int:
        return self.A.shape[0]

    def delta(self) -> torch.Tensor:
        return self.scale * (self.B @ self.A)


@dataclass(frozen=True)
class LoraAdapter:
    path: Path
    config: dict
    modules: dict[str, LoraModule]  # keyed by module name, e.g. "model.layers.0.self_attn.q_proj"


def _pattern_value(patterns: dict, module: str, default):
    """PEFT's rank_pattern/alpha_pattern lookup: a key matches a module name that ends with
    it at a dot boundary (a regex is allowed)."""
    for key, value in (patterns or {}).items():
        if re.match(rf"(.*\.)?({key})$", module):
            return value
    return default


def _scale(config: dict, module: str, rank: int) -> float:
    alpha = _pattern_value(config.get("alpha_pattern"), module, config.get("lora_alpha", 8))
    return alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank


def read_adapter(path: Path) -> LoraAdapter:
    path = Path(path)
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise UserError(f"{path}: no {CONFIG_FILE}; not a PEFT adapter directory")
    config = read_json_object(config_path)  # a small UTF-8 JSON object, or one line
    _check_supported(config, config_path)
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        hint = " (found adapter_model.bin: convert it with safetensors.torch.save_file in a trusted session)"
        raise UserError(f"{path}: no {WEIGHTS_FILE}{hint if (path / 'adapter_model.bin').exists() else ''}")
    try:
        state = load_file(weights)
    except (SafetensorError, OSError) as err:
        raise UserError(f"{weights}: unreadable safetensors ({err})") from None
    return LoraAdapter(path, config, _modules_from_state(state, config, weights))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_supported(config: object, where: Path) -> None:
    if not isinstance(config, dict):
        raise UserError(f"{where}: must be a JSON object, got {type(config).__name__}")
    for field in ("rank_pattern", "alpha_pattern"):
        if not isinstance(config.get(field) or {}, dict):
            raise UserError(f"{where}: {field} must be a mapping of module pattern to value")
    alphas = [config.get("lora_alpha", 8), *(config.get("alpha_pattern") or {}).values()]
    ranks = [config.get("r", 8), *(config.get("rank_pattern") or {}).values()]
    if not all(_is_number(a) and a > 0 for a in alphas):
        bad = next(a for a in alphas if not (_is_number(a) and a > 0))
        raise UserError(f"{where}: lora_alpha must be a positive finite number, got {bad!r}")
    bad_ranks = [r for r in ranks if not (isinstance(r, int) and not isinstance(r, bool) and r > 0)]
    if bad_ranks:
        raise UserError(f"{where}: r must be a positive integer, got {bad_ranks[0]!r}")
    if config.get("peft_type", "LORA") != "LORA":
        raise UserError(f"{where}: peft_type {config.get('peft_type')!r} is not LORA")
    for flag in ("use_dora", "lora_bias"):
        if config.get(flag):
            raise UserError(f"{where}: {flag}=true is not supported")


def _modules_from_state(state: dict[str, torch.Tensor], config: dict, where: Path) -> dict[str, LoraModule]:
    modules = {}
    for key, A in state.items():
        if not key.endswith(".lora_A.weight"):
            continue
        name = key[: -len(".lora_A.weight")].removeprefix("base_model.model.")
        B = state.get(key.replace(".lora_A.", ".lora_B."))
        if B is None or A.dim() != 2 or B.dim() != 2 or B.shape[1] != A.shape[0]:
            raise UserError(f"{where}: module {name}: lora_A and lora_B must be matrices sharing one rank (missing or mis-shaped)")
        if not (A.is_floating_point() and B.is_floating_point()):
            raise UserError(f"{where}: module {name}: weights must be floating point, got {A.dtype}/{B.dtype}")
        # bf16/fp16/fp8 adapters exist; every computation here is in fp32 or wider (exact upcast)
        A, B = (t if t.dtype in (torch.float32, torch.float64) else t.float() for t in (A, B))
        if A.shape[0] == 0:
            raise UserError(f"{where}: module {name}: rank 0")
        expected = _pattern_value(config.get("rank_pattern"), name, config.get("r", A.shape[0]))
        if expected != A.shape[0]:
            raise UserError(f"{where}: module {name}: weights have rank {A.shape[0]}, config says {expected}")
        if not (torch.isfinite(A).all() and torch.isfinite(B).all()):
            raise UserError(f"{where}: module {name}: NaN or Inf in weights")
        modules[name] = LoraModule(A, B, _scale(config, name, A.shape[0]))
    if not modules:
        raise UserError(f"{where}: no LoRA weights found")
    return modules


def write_adapter(factors: dict[str, tuple[torch.Tensor, torch.Tensor]], template: dict, out: Path, meta: dict) -> None:
    """Write (A, B) factors, with the scale folded into B, as a PEFT adapter (scaling 1).

    Modules whose rank differs from the most common one are listed in rank_pattern /
    alpha_pattern, so ranks may differ per module."""
    ranks = {name: A.shape[0] for name, (A, _) in factors.items()}
    r = Counter(ranks.values()).most_common(1)[0][0]
    odd = {name: rank for name, rank in ranks.items() if rank != r}
    config = dict(template)
    config.update(
        r=r, lora_alpha=r, use_rslora=False, rank_pattern=odd, alpha_pattern=dict(odd),
        # exact module names: a merge that covers only some layers adapts only those
        target_modules=sorted(factors), lora_dropout=0.0,
    )
    state = {}
    for name, (A, B) in factors.items():
        if not (torch.isfinite(A).all() and torch.isfinite(B).all()):  # never write an adapter that holds Inf/NaN
            raise UserError(f"{out}: module {name}'s merged factors are not finite; nothing written")
        state[f"base_model.model.{name}.lora_A.weight"] = A.contiguous()
        state[f"base_model.model.{name}.lora_B.weight"] = B.contiguous()
    with atomic_dir(out) as tmp:
        save_file(state, tmp / WEIGHTS_FILE)
        write_json(tmp / CONFIG_FILE, config)
        write_json(tmp / "lorarecycle_merge.json", meta)
