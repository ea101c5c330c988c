"""Which device and dtype the run uses: `--device auto|cpu|cuda[:N]`.

The choice is process-wide and travels in the environment (`LORARECYCLE_DEVICE`), so Ray
workers of a grid inherit it; Ray's `num_gpus` per cell sets CUDA_VISIBLE_DEVICES, so
`auto` / `cuda` in a worker is the GPU Ray assigned to that cell.
"""

from __future__ import annotations

import os

import torch

from ..errors import UserError

DEVICE_ENV = "LORARECYCLE_DEVICE"


def resolve_device(spec: str, check_available: bool = True, source: str = "--device") -> torch.device:
    """`auto` (CUDA when visible, else CPU), `cpu`, `cuda` or `cuda:N`; a one-line error otherwise,
    naming where the spec came from (`source`: the flag, or $LORARECYCLE_DEVICE for commands
    without one). Without `check_available` only the form is checked (a driver whose workers
    hold the GPUs)."""
    spec = spec.strip().lower()
    where = f"{source} {spec}" if source.startswith("-") else f"{source}={spec}"
    cpu = "use --device cpu" if source.startswith("-") else f"set {source}=cpu"
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    kind, _, index = spec.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise UserError(f"{where}: expected auto, cpu, cuda or cuda:N")
    if not check_available:
        return torch.device(spec)
    if not torch.cuda.is_available():
        raise UserError(f"{where}: no CUDA GPU is visible to torch {torch.__version__} "
                        f"(a CPU build, or no driver); {cpu}")
    if index and int(index) >= torch.cuda.device_count():
        raise UserError(f"{where}: only {torch.cuda.device_count()} CUDA device(s) visible")
    return torch.device(spec if index else "cuda:0")


def set_device(spec: str, check_available: bool = True) -> torch.device:
    """Validate and select the device for this process and the workers it starts."""
    device = resolve_device(spec, check_available)
    os.environ[DEVICE_ENV] = spec
    return device


def current_device() -> torch.device:
    return resolve_device(os.environ.get(DEVICE_ENV, "auto"), source=DEVICE_ENV)


def free_memory_bytes(device: torch.device) -> int:
    """Memory free for new tensors on `device` (host RAM for the CPU)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
