"""Map a merge method over the modules of several PEFT adapters and write one adapter.

The only PEFT-aware merge code: reads adapters, streams modules one at a time (so peak
memory stays near the inputs), chooses each output rank and records its truncation error."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ...adapters.lora_io import LoraAdapter, LoraModule, read_adapter, write_adapter
from ...errors import UserError
from ...seeding import derive_seed
from .methods import MERGE_METHODS, MergeMethod
from .ops import LowRank, gram_svd, lowrank_svd, rank_for_tolerance, stack_factors, truncate


@dataclass(frozen=True)
class MergeOptions:
    rank: int | None = None  # fixed output rank
    tolerance: float | None = None  # or: smallest rank with relative error <= tolerance
    seed: int = 0  # DARE's drops: one generator per module, seeded from (seed, module name)
    dtype: torch.dtype = torch.float32  # compute dtype


def merge_module(method: MergeMethod, name: str, modules: list[LoraModule], weights: list[float], params: dict,
                 options: MergeOptions) -> tuple[LowRank, float]:
    generator = torch.Generator().manual_seed(derive_seed(options.seed, name))
    check_magnitudes(name, modules, weights, options.dtype)
    modules = [LoraModule(m.A.to(options.dtype), m.B.to(options.dtype), m.scale) for m in modules]
    fixed = options.rank is None and options.tolerance is None
    if method.truncates and not fixed:
        # The output rank/tolerance does the truncating, measured against the full weighted
        # sum: the method must not first cut to its own default rank.
        if params.get("rank"):
            raise UserError(f"{method.name}: give its own rank or an output rank/tolerance, not both")
        params = {**params, "rank": sum(m.rank for m in modules)}
    try:
        pair, error = _merge_module(method, modules, weights, params, options, fixed, generator)
    except ValueError as err:
        raise UserError(f"{method.name}: module {name}: {err}") from None
    except torch.linalg.LinAlgError as err:  # ill-conditioned beyond what the checks catch: one line
        raise UserError(f"{method.name}: module {name}: the computation failed ({str(err).splitlines()[0]})") from None
    check_finite_result(method.name, name, pair, error, options.dtype)
    return pair, error


def _merge_module(method: MergeMethod, modules: list[LoraModule], weights: list[float], params: dict,
                  options: MergeOptions, fixed: bool, generator: torch.Generator) -> tuple[LowRank, float]:
    result = method.fn(modules, weights, generator=generator, **params)
    if isinstance(result, LowRank):
        if method.truncates and fixed:  # it truncated itself: report how much it dropped
            return result, truncation_error(result, stack_factors(modules, weights))
        if fixed or not method.takes_output_rank:
            return result, 0.0
        U, S, Vh = lowrank_svd(result)
    else:  # dense: an entrywise method; default output rank is the sum of the input ranks
        if not torch.isfinite(result).all():  # eigh would fail on it with a LinAlgError
            return LowRank(result[:0], result[:, :0]), math.nan
        U, S, Vh = gram_svd(result)
    if options.rank is not None:
        k = options.rank
    elif options.tolerance is not None:
        k = rank_for_tolerance(S, options.tolerance)
    else:
        k = sum(m.rank for m in modules)
    return truncate(U, S, Vh, k)


def magnitude_limit(dtype: torch.dtype) -> float:
    """Largest norm an update may have in `dtype`: the merge squares it (Gram matrices in
    the SVDs, |B A|^2 from the factors), so it must stay well below sqrt(max)."""
    return math.sqrt(torch.finfo(dtype).max) * 1e-3


def check_magnitude(m: LoraModule, weight: float, dtype: torch.dtype, where: str) -> None:
    """Refuse a module whose scaled factors overflow `dtype`'s arithmetic (lora_alpha 1e308,
    factors near 1e30): finite on disk, they become Inf or NaN once multiplied (a merge, an
    SVD of a diagnostic). Norms are taken in float64, where they are exact enough and cannot
    overflow."""
    limit = magnitude_limit(dtype)
    a = float(m.A.double().norm())
    b = abs(weight) * abs(m.scale) * float(m.B.double().norm())
    bound = a * b  # >= |w s B A|_F
    if not (math.isfinite(bound) and a <= limit and b <= limit and bound <= limit):
        raise UserError(f"{where}: scaled update |w s B| |A| = {bound:.3g} overflows {str(dtype).removeprefix('torch.')} "
                        f"arithmetic (limit {limit:.3g}); check its lora_alpha and weights")


def check_magnitudes(name: str, modules: list[LoraModule], weights: list[float], dtype: torch.dtype) -> None:
    for i, (m, w) in enumerate(zip(modules, weights)):
        check_magnitude(m, w, dtype, f"module {name}, adapter {i + 1}")


def check_finite_result(method: str, name: str, pair: LowRank, error: float, dtype: torch.dtype) -> None:
    """A merged module is finite and representable, with a finite error: never written, or
    reported as exact, otherwise (a parameter such as lam 1e308 overflows only here)."""
    finite = bool(torch.isfinite(pair.A).all() and torch.isfinite(pair.B).all())
    bound = float(pair.A.double().norm()) * float(pair.B.double().norm()) if finite else math.inf
    if not (finite and math.isfinite(error) and bound <= magnitude_limit(dtype)):
        raise UserError(f"{method}: module {name}: the merged update overflows {str(dtype).removeprefix('torch.')} "
                        "(Inf or NaN); the inputs, weights or parameters are too large")


def max_output_rank(adapters: list[LoraAdapter], spec: MergeMethod) -> int:
    """The largest rank any merged module can have: a dense method's result is a full
    matrix; a low-rank one has at most the sum of the input ranks."""
    best = 0
    for name in {n for a in adapters for n in a.modules}:
        present = [a.modules[name] for a in adapters if name in a.modules]
        full = min(present[0].B.shape[0], present[0].A.shape[1])
        best = max(best, full if spec.space == "dense" else min(full, sum(m.rank for m in present)))
    return best


def check_before_merge(adapters: list[LoraAdapter], spec: MergeMethod, weights: list[float], params: dict,
                       options: MergeOptions) -> None:
    """Every refusal a merge would make part-way, made before the progress line: the output
    rank (refused, not clamped), then a dry run of each module on a one-entry slice of its
    factors (weights summing to 0, unequal ranks, overflowing inputs). A slice can only
    fail where the module would; its other errors are left to the real run."""
    if not spec.takes_output_rank and (options.rank is not None or options.tolerance is not None):
        raise UserError(f"merge method {spec.name!r} sets its own output rank: --rank/--tolerance do not apply")
    if options.rank is not None and options.rank > (cap := max_output_rank(adapters, spec)):
        raise UserError(f"--rank {options.rank}: this merge's output has rank at most {cap}; give at most {cap}")
    for name in sorted({n for a in adapters for n in a.modules}):
        like = next(a.modules[name] for a in adapters if name in a.modules)
        zero = LoraModule(like.A.new_zeros(like.A.shape), like.B.new_zeros(like.B.shape), 1.0)
        modules = [a.modules.get(name, zero) for a in adapters]
        check_magnitudes(name, modules, weights, options.dtype)
        tiny = [LoraModule(m.A[:, :1], m.B[:1, :], m.scale) for m in modules]
        try:
            merge_module(spec, name, tiny, weights, params, options)
        except UserError:
            raise
        except Exception:  # noqa: BLE001, S110 - a slice is not the module: the real run decides
            pass


def truncation_error(kept: LowRank, full: LowRank) -> float:
    """|full - kept| / |full| when `kept` is an optimal truncation of `full` (orthogonal
    projection: |full - kept|^2 = |full|^2 - |kept|^2), from the factors only."""
    def sq_norm(p: LowRank) -> float:
        return float(((p.B.T @ p.B) * (p.A @ p.A.T)).sum())

    total = sq_norm(full)
    if not math.isfinite(total):
        return math.nan  # not 0: an overflowed merge is not an exact one
    return (max(total - sq_norm(kept), 0.0) / total) ** 0.5 if total > 0 else 0.0


def check_compatible(adapters: list[LoraAdapter]) -> list[str]:
    """Union of module names; every module must have one (d_out, d_in) across adapters."""
    shapes: dict[str, tuple] = {}
    for adapter in adapters:
        for name, m in adapter.modules.items():
            shape = (m.B.shape[0], m.A.shape[1])
            if shapes.setdefault(name, shape) != shape:
                raise UserError(f"{adapter.path}: module {name} has shape {shape}, another adapter has "
                                f"{shapes[name]}: adapters for different base models")
    return sorted(shapes)


def merge_adapters(adapters: list[LoraAdapter], method: str, weights: list[float], params: dict,
                   options: MergeOptions, on_module: Callable[[str, int], None] | None = None) -> tuple[dict, dict]:
    """Per-module merged (A, B) and per-module truncation errors. A module an adapter lacks
    contributes zero."""
    spec = MERGE_METHODS.get(method)
    spec.check_params(params)
    if not spec.takes_output_rank and (options.rank is not None or options.tolerance is not None):
        raise UserError(f"merge method {method!r} sets its own output rank: rank/tolerance do not apply")
    if len(weights) != len(adapters):
        raise UserError(f"{len(weights)} weights for {len(adapters)} adapters")
    factors, errors = {}, {}
    names = check_compatible(adapters)
    for name in names:
        like = next(a.modules[name] for a in adapters if name in a.modules)
        # a missing module is a zero update of the same rank: it counts in normalisations
        zero = LoraModule(torch.zeros_like(like.A), torch.zeros_like(like.B), 1.0)
        modules = [a.modules.get(name, zero) for a in adapters]
        pair, errors[name] = merge_module(spec, name, modules, weights, params, options)
        factors[name] = (pair.A.to(torch.float32), pair.B.to(torch.float32))
        if on_module:
            on_module(name, len(names))
    return factors, errors


def merge_adapter_dirs(paths: list[Path], method: str, out: Path, weights: list[float] | None = None,
                       params: dict | None = None, options: MergeOptions = MergeOptions(),
                       on_module: Callable[[str, int], None] | None = None) -> dict:
    """Merge PEFT adapter directories into a new PEFT adapter at `out`; returns a summary."""
    return write_merge([read_adapter(p) for p in paths], method, out, weights, params, options, on_module)


def write_merge(adapters: list[LoraAdapter], method: str, out: Path, weights: list[float] | None = None,
                params: dict | None = None, options: MergeOptions = MergeOptions(),
                on_module: Callable[[str, int], None] | None = None) -> dict:
    weights = weights if weights is not None else MERGE_METHODS.get(method).default_weights(len(adapters))
    start = time.perf_counter()
    factors, errors = merge_adapters(adapters, method, weights, params or {}, options, on_module)
    ranks = sorted({A.shape[0] for A, _ in factors.values()})
    summary = {
        "method": method, "inputs": [str(a.path) for a in adapters], "weights": weights, "params": params or {},
        "rank": options.rank, "tolerance": options.tolerance, "seed": options.seed,
        "output_ranks": ranks, "worst_error": max(errors.values()), "median_error": statistics.median(errors.values()),
        "modules": len(factors), "seconds": round(time.perf_counter() - start, 4), "module_errors": errors,
    }
    write_adapter(factors, adapters[0].config, out, summary)
    return summary
