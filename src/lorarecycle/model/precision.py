"""Which floating-point precision the run computes in: `precision: auto | fp32 | bf16`.

`auto` is fp32 on a CPU, on every CPU: the gates sit on edges that move with numerics
(measured on one Xeon, same config and seed: base subject restated 1.00 in fp32, 0.74 in
bf16), so a newcomer's rows must not depend on whether the CPU has native bf16. bf16 stays
an explicit choice; the run measures this model's own training step in both
(`step_probe.py`) and says when bf16 would be faster. On CUDA devices that support it,
`auto` is bf16. The square-matmul probe below only describes the machine in run.json.

Like the device, the choice is process-wide (`LORARECYCLE_PRECISION`), so every stage and
Ray worker sees it; `auto` resolves on the machine that runs the stage.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import time
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import torch

from ..artifacts import read_json, write_json
from ..errors import UserError
from ..runtime import cache_root
from .device import current_device

PRECISION_ENV = "LORARECYCLE_PRECISION"
PRECISIONS = ("auto", "fp32", "bf16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
PROBE_SIZE = 512  # big enough to reach the GEMM kernels' steady state, small enough for ~0.2 s
PROBE_VERSION = 2


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


def cpu_fingerprint() -> str:
    """A short hash of the CPU's model name and feature flags: cloud machines often report one
    generic name ("Intel(R) Xeon(R) Processor") for CPUs with and without native bf16, and
    ARM reports no name at all, so the flags tell them apart."""
    text = ""
    try:
        text = "\n".join(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                         if line.startswith(("model name", "flags", "Features", "CPU part")))
    except OSError:
        pass
    text = text or f"{platform.processor()} {platform.machine()}"
    return hashlib.sha1(text.encode()).hexdigest()[:12]


@cache
def probe_cpu() -> dict:
    """fp32 vs bf16 matmul GFLOP/s on this CPU (square PROBE_SIZE matmuls), cached on disk per
    CPU (model and flags), torch version and thread count (uncached, a fraction of a second;
    longer on AVX2 only, where bf16 is slow). `measured` says when the figures were taken
    (a cached figure stands for this CPU, not for this run's load)."""
    cpu = cpu_description()
    key = f"v{PROBE_VERSION}-{cpu_fingerprint()}-{cpu['capability']}-torch{torch.__version__}-t{cpu['threads']}"
    path = Path(cache_root()) / "precision" / f"{key.replace('/', '_')}.json"
    try:
        cached = read_json(path) if path.is_file() else None
    except (OSError, ValueError):
        cached = None
    if cached and {"fp32_gflops", "bf16_gflops", "measured"} <= set(cached):
        return cached
    result = {**cpu, "probe_size": PROBE_SIZE, "fp32_gflops": round(matmul_gflops(torch.float32), 1),
              "bf16_gflops": round(matmul_gflops(torch.bfloat16), 1),
              "measured": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    try:
        write_json(path, result)
    except OSError:  # a read-only cache only costs the probe again next time
        pass
    return result


def resolve_precision(spec: str, device: torch.device) -> str:
    """`fp32` or `bf16` for `spec` on `device`; `auto`: bf16 on CUDA with bf16, else fp32."""
    if spec not in PRECISIONS:
        raise UserError(f"precision {spec!r}: expected one of {', '.join(PRECISIONS)}")
    if spec != "auto":
        return spec
    return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"


def set_precision(spec: str) -> None:
    """Select the precision for this process and the workers it starts."""
    if spec not in PRECISIONS:
        raise UserError(f"--precision {spec}: expected one of {', '.join(PRECISIONS)}")
    os.environ[PRECISION_ENV] = spec


def current_precision() -> str:
    """The resolved precision (`fp32` or `bf16`) of this process (the probe is cached)."""
    return resolve_precision(os.environ.get(PRECISION_ENV, "auto"), current_device())


def compute_dtype() -> torch.dtype:
    return DTYPES[current_precision()]


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast when the run computes in bf16, else nothing: fp32 weights stay fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=current_precision() == "bf16")
