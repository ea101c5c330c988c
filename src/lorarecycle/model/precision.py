"""Which floating-point precision the run computes in: `precision: auto | fp32 | bf16`.

bf16 is not always faster: on CPUs without native bf16 instructions (AVX2 only) a bf16
matmul runs at ~1% of fp32 speed. `auto` therefore measures: bf16 on CUDA devices that
support it, and on a CPU only where a short matmul probe shows bf16 beating fp32. The
probe's result is cached per CPU capability, torch version and thread count.

Like the device, the choice is process-wide (`LORARECYCLE_PRECISION`), so every stage and
Ray worker sees it; `auto` resolves on the machine that runs the stage.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import torch

from ..errors import UserError

PRECISION_ENV = "LORARECYCLE_PRECISION"
PRECISIONS = ("auto", "fp32", "bf16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
PROBE_SIZE = 512  # big enough to reach the GEMM kernels' steady state, small enough for ~0.2 s
PROBE_VERSION = 1


def matmul_gflops(dtype: torch.dtype, size: int = PROBE_SIZE, seconds: float = 0.1,
                  device: torch.device | str = "cpu") -> float:
    """Achieved GFLOP/s of a square matmul in `dtype`: the median of repeated timings."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    a @ b  # warm-up: kernel selection, packing buffers
    sync()
    times = []
    deadline = time.perf_counter() + seconds
    while len(times) < 3 or (time.perf_counter() < deadline and len(times) < 50):
        start = time.perf_counter()
        a @ b
        sync()
        times.append(time.perf_counter() - start)
    times.sort()
    return 2 * size**3 / times[len(times) // 2] / 1e9


def cpu_description() -> dict:
    """What a timing figure must name: the CPU, its vector capability and the threads used."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": name, "capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}


@cache
def probe_cpu() -> dict:
    """fp32 vs bf16 matmul GFLOP/s on this CPU, cached on disk per CPU model, capability,
    torch version and thread count (about 0.3 s when not cached)."""
    from ..artifacts import read_json, write_json
    from ..runtime import cache_root

    cpu = cpu_description()
    # the CPU's model is in the key: two CPUs of one capability (a shared home directory) differ in speed
    model = "".join(c if c.isalnum() else "_" for c in cpu["cpu"])[:60]
    key = f"v{PROBE_VERSION}-{model}-{cpu['capability']}-torch{torch.__version__}-t{cpu['threads']}".replace("/", "_")
    path = Path(cache_root()) / "precision" / f"{key}.json"
    try:
        cached = read_json(path) if path.is_file() else None
    except (OSError, ValueError):
        cached = None
    if cached and {"fp32_gflops", "bf16_gflops"} <= set(cached):
        return cached
    result = {**cpu, "fp32_gflops": round(matmul_gflops(torch.float32), 1),
              "bf16_gflops": round(matmul_gflops(torch.bfloat16), 1)}
    try:
        write_json(path, result)
    except OSError:  # a read-only cache only costs the probe again next time
        pass
    return result


def resolve_precision(spec: str, device: torch.device, probe: Callable[[], dict] = probe_cpu) -> str:
    """`fp32` or `bf16` for `spec` on `device`; `auto` takes bf16 only where it is faster."""
    if spec not in PRECISIONS:
        raise UserError(f"precision {spec!r}: expected one of {', '.join(PRECISIONS)}")
    if spec != "auto":
        return spec
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type != "cpu":
        return "fp32"
    measured = probe()
    return "bf16" if measured["bf16_gflops"] > measured["fp32_gflops"] else "fp32"


def set_precision(spec: str) -> None:
    """Select the precision for this process and the workers it starts."""
    if spec not in PRECISIONS:
        raise UserError(f"--precision {spec}: expected one of {', '.join(PRECISIONS)}")
    os.environ[PRECISION_ENV] = spec


def current_precision() -> str:
    """The resolved precision (`fp32` or `bf16`) of this process (the probe is cached)."""
    from .device import current_device

    return resolve_precision(os.environ.get(PRECISION_ENV, "auto"), current_device())


def compute_dtype() -> torch.dtype:
    return DTYPES[current_precision()]


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast when the run computes in bf16, else nothing: fp32 weights stay fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=current_precision() == "bf16")
