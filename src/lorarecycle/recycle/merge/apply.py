"""Map a merge method over the modules of several PEFT adapters and write the result."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ...adapters.lora_io import LoraAdapter, read_adapter, write_adapter
from ...errors import UserError
from .methods import MERGE_METHODS


def merge_factors(adapters: list[LoraAdapter], method: str, weights: list[float], params: dict) -> dict:
    """Per-module merged (A, B). A module an adapter lacks contributes zero."""
    fn = MERGE_METHODS.get(method).fn
    names = sorted(set().union(*(a.modules for a in adapters)))
    merged = {}
    for name in names:
        present = [(a.modules[name], w) for a, w in zip(adapters, weights) if name in a.modules]
        shapes = {(m.B.shape[0], m.A.shape[1]) for m, _ in present}
        if len(shapes) > 1:
            raise UserError(f"module {name}: adapters were trained on different base shapes {sorted(shapes)}")
        try:
            merged[name] = fn([m for m, _ in present], [w for _, w in present], **params)
        except ValueError as err:
            raise UserError(f"{method}: module {name}: {err}") from None
    return merged


def merge_adapter_dirs(paths: list[Path], method: str, out: Path, weights: list[float] | None = None, params: dict | None = None) -> Path:
    adapters = [read_adapter(p) for p in paths]
    weights = weights if weights is not None else [1.0 / len(adapters)] * len(adapters)
    start = time.perf_counter()
    factors = merge_factors(adapters, method, weights, params or {})
    meta = {
        "method": method, "inputs": [str(p) for p in paths], "weights": weights,
        "params": params or {}, "seconds": round(time.perf_counter() - start, 4),
    }
    write_adapter({k: (A.to(torch.float32), B.to(torch.float32)) for k, (A, B) in factors.items()}, adapters[0].config, out, meta)
    return out
