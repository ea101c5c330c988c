"""Merge speed, exactness and memory: lorarecycle's merges vs PEFT's `add_weighted_adapter`.

Random rank-r LoRA adapters with real model shapes; both sides merge the same in-memory
factors in the same process. Prints, per method pair: median seconds, time ratio
(PEFT / ours: > 1 means we are faster), relative Frobenius error vs a dense float64
reference, and peak extra resident memory relative to the input adapters.

    python benchmarks/merge.py                      # Llama-3.2-1B-like shapes, 2 of 16 layers
    python benchmarks/merge.py --layers 16          # the whole 1B-like model (PEFT's SVDs: long)
    python benchmarks/merge.py --shape llama-7b --layers 1
"""

from __future__ import annotations

import argparse
import gc
import statistics
import threading
import time
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from torch import nn

from lorarecycle.adapters.lora_io import LoraAdapter, LoraModule
from lorarecycle.recycle.merge.apply import MergeOptions, merge_adapters
from lorarecycle.recycle.merge.ops import gram_svd, truncate
from lorarecycle.recycle.merge import MERGE_METHODS

SHAPES = {  # hidden, intermediate, k/v width, layers
    "llama-1b": (2048, 8192, 512, 16),
    "llama-7b": (4096, 11008, 4096, 32),
    "tiny": (256, 512, 128, 2),
}
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def module_shapes(hidden: int, inter: int, kv: int, layers: int) -> dict[str, tuple[int, int]]:
    io = {"q_proj": (hidden, hidden), "k_proj": (kv, hidden), "v_proj": (kv, hidden), "o_proj": (hidden, hidden),
          "gate_proj": (inter, hidden), "up_proj": (inter, hidden), "down_proj": (hidden, inter)}
    part = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn"}
    return {f"model.layers.{i}.{part.get(t, 'mlp')}.{t}": io[t] for i in range(layers) for t in TARGETS}


def random_adapters(shapes, n: int, rank: int, seed: int) -> list[LoraAdapter]:
    g = torch.Generator().manual_seed(seed)
    adapters = []
    for i in range(n):
        mods = {name: LoraModule(torch.randn(rank, d_in, generator=g) / d_in**0.5,
                                 torch.randn(d_out, rank, generator=g) / rank**0.5, 2.0)
                for name, (d_out, d_in) in shapes.items()}
        adapters.append(LoraAdapter(Path(f"adapter{i}"), {"r": rank, "lora_alpha": 2 * rank}, mods))
    return adapters


class Skeleton(nn.Module):
    """Only the adapted linear layers, at their real shapes (weights uninitialised)."""

    def __init__(self, shapes):
        super().__init__()
        self.layers = nn.ModuleDict()
        for name, (d_out, d_in) in shapes.items():
            self.layers[name.replace(".", "__")] = nn.Linear(d_in, d_out, bias=False)


def peft_model(shapes, adapters: list[LoraAdapter], rank: int):
    names = [k.replace(".", "__") for k in shapes]
    config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=names)
    model = get_peft_model(Skeleton(shapes), config, adapter_name="a0")
    for i in range(1, len(adapters)):
        model.add_adapter(f"a{i}", config)
    with torch.no_grad():
        for name in shapes:
            layer = model.base_model.model.layers[name.replace(".", "__")]
            for i, adapter in enumerate(adapters):
                layer.lora_A[f"a{i}"].weight.copy_(adapter.modules[name].A)
                layer.lora_B[f"a{i}"].weight.copy_(adapter.modules[name].B)
    return model


class PeakRSS:
    """Peak resident memory above the level at entry, polled every millisecond."""

    def __enter__(self):
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.extra = self.peak - self.base


def timed(fn, repeats: int):
    times, result, extra = [], None, []
    for _ in range(repeats):
        gc.collect()
        with PeakRSS() as mem:
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
        extra.append(mem.extra)
        if _ < repeats - 1:
            result = None
    return statistics.median(times), result, max(extra)


def rel_error(deltas: dict[str, torch.Tensor], refs: dict[str, torch.Tensor]) -> float:
    num = sum(float((deltas[k].double() - refs[k]).norm() ** 2) for k in refs)
    den = sum(float(refs[k].norm() ** 2) for k in refs)
    return (num / den) ** 0.5


def ours(adapters, method, weights, params, rank):
    factors, _ = merge_adapters(adapters, method, weights, params, MergeOptions(rank=rank, seed=0))
    return factors


def ours_deltas(factors):
    return {k: B @ A for k, (A, B) in factors.items()}


def peft_merge(model, combination, weights, rank, **kw):
    names = [f"a{i}" for i in range(len(weights))]
    if "merged" in model.peft_config:
        model.delete_adapter("merged")
    model.add_weighted_adapter(names, weights, "merged", combination_type=combination, svd_rank=rank, **kw)
    return model


def peft_deltas(model, shapes):
    return {name: model.base_model.model.layers[name.replace(".", "__")].get_delta_weight("merged").detach()
            for name in shapes}


def dense_reference(adapters, method, weights, params, rank=None) -> dict[str, torch.Tensor]:
    """The method's definition on dense float64 deltas; optionally its best rank-k part."""
    refs = {}
    spec = MERGE_METHODS.get(method)
    for name in adapters[0].modules:
        mods = [LoraModule(a.modules[name].A.double(), a.modules[name].B.double(), a.modules[name].scale) for a in adapters]
        out = spec.fn(mods, weights, generator=torch.Generator().manual_seed(0), **params)
        dense = out if isinstance(out, torch.Tensor) else out.B @ out.A
        if rank is not None:
            pair, _ = truncate(*gram_svd(dense), rank)
            dense = pair.B @ pair.A
        refs[name] = dense
    return refs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="llama-1b")
    parser.add_argument("--layers", type=int, default=2, help="layers to include (the model has more)")
    parser.add_argument("--adapters", type=int, default=4)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="runs of our methods and PEFT's fast ones")
    parser.add_argument("--slow-repeats", type=int, default=1, help="runs of PEFT's dense-SVD types")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    hidden, inter, kv, layers = SHAPES[args.shape]
    shapes = module_shapes(hidden, inter, kv, min(args.layers, layers))
    adapters = random_adapters(shapes, args.adapters, args.rank, seed=0)
    input_bytes = sum(m.A.numel() * 4 + m.B.numel() * 4 for a in adapters for m in a.modules.values())
    model = peft_model(shapes, adapters, args.rank)
    n, r = args.adapters, args.rank
    uniform, ones = [1.0 / n] * n, [1.0] * n
    print(f"shape {args.shape}: {len(shapes)} modules ({min(args.layers, layers)} of {layers} layers), "
          f"{n} adapters of rank {r}, inputs {input_bytes / 2**20:.0f} MiB, {torch.get_num_threads()} threads")

    # (label, our method, our params, our output rank, PEFT type, PEFT kwargs, weights, reference)
    rows = [
        ("svd r=16", "svd", {"rank": r}, None, "svd", {}, uniform, ("svd", {"rank": r}, None)),
        ("linear (exact, rank 64) vs PEFT cat", "linear", {}, None, "cat", {}, uniform, ("linear", {}, None)),
        ("cat", "cat", {}, None, "cat", {}, uniform, ("cat", {}, None)),
        ("ties d=0.2 -> r=16", "ties", {"density": 0.2}, r, "ties_svd", {"density": 0.2}, ones,
         ("ties", {"density": 0.2}, None)),
        ("dare_ties p=0.5 -> r=16", "dare_ties", {"drop": 0.5}, r, "dare_ties_svd", {"density": 0.5}, ones,
         ("ties", {"density": 1.0}, None)),
        ("dare_linear p=0.5 -> r=16", "dare_linear", {"drop": 0.5}, r, "dare_linear_svd", {"density": 0.5}, ones,
         ("linear", {"normalize": False}, None)),
        ("magnitude_prune d=0.2 -> r=16", "magnitude_prune", {"density": 0.2}, r, "magnitude_prune_svd",
         {"density": 0.2}, ones, ("magnitude_prune", {"density": 0.2}, None)),
        ("factor space: exact linear vs PEFT linear", "linear", {}, None, "linear", {}, uniform, ("linear", {}, None)),
        ("factor space: exact ties vs PEFT ties", "ties", {"density": 0.2}, None, "ties", {"density": 0.2}, ones,
         ("ties", {"density": 0.2}, None)),
    ]
    print(f"\n{'method':44s} {'ours s':>8s} {'PEFT s':>8s} {'PEFT/ours':>9s} {'err ours':>9s} {'err PEFT':>9s} "
          f"{'mem ours':>8s} {'mem PEFT':>8s}")
    for label, method, params, out_rank, ptype, pkw, weights, (ref_method, ref_params, ref_rank) in rows:
        refs = dense_reference(adapters, ref_method, weights, ref_params, ref_rank)
        t_ours, factors, m_ours = timed(lambda: ours(adapters, method, weights, params, out_rank), args.repeats)
        e_ours = rel_error(ours_deltas(factors), refs)
        del factors
        reps = args.slow_repeats if ptype.endswith("_svd") or ptype == "svd" else args.repeats
        t_peft, merged, m_peft = timed(lambda: peft_merge(model, ptype, weights, r, **pkw), reps)
        e_peft = rel_error(peft_deltas(merged, shapes), refs)
        print(f"{label:44s} {t_ours:8.3f} {t_peft:8.3f} {t_peft / t_ours:9.1f} {e_ours:9.2e} {e_peft:9.2e} "
              f"{(input_bytes + m_ours) / input_bytes:7.2f}x {(input_bytes + m_peft) / input_bytes:7.2f}x", flush=True)
    print("\nerr: relative Frobenius error vs a dense float64 reference of the method's definition "
          "(svd: the best rank-16 approximation; dare_*: the no-drop expectation).\n"
          "mem: (inputs + peak extra resident memory while merging) / inputs.")


if __name__ == "__main__":
    main()
