"""fp32 vs bf16 matmul throughput on this CPU, at several sizes (`precision: auto` decides from
one such probe, 512², cached: printed last).

Square matmuls of a few sizes, each the median of repeated timings, with the CPU, its
vector capability and the thread count. The ratio is bf16 over fp32 (the baseline, measured
in the same run): above 1 where the CPU has native bf16 (AVX-512 BF16, AMX), far below 1
where it has AVX2 only.

    python benchmarks/precision.py
    python benchmarks/precision.py --sizes 512 1024 2048 --seconds 1
"""

from __future__ import annotations

import argparse

import torch

from lorarecycle.model.precision import cpu_description, matmul_gflops, probe_cpu
from lorarecycle.runtime import configure_runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--seconds", type=float, default=0.5, help="timing budget per size and dtype")
    args = parser.parse_args()
    configure_runtime()
    print(cpu_description())
    print(f"{'size':>6} {'fp32 GFLOP/s':>13} {'bf16 GFLOP/s':>13} {'bf16 / fp32':>12}")
    for size in args.sizes:
        fp32 = matmul_gflops(torch.float32, size=size, seconds=args.seconds)
        bf16 = matmul_gflops(torch.bfloat16, size=size, seconds=args.seconds)
        print(f"{size:>6} {fp32:>13.1f} {bf16:>13.1f} {bf16 / fp32:>12.2f}")
    print("precision: auto reads:", probe_cpu())


if __name__ == "__main__":
    main()
