"""Process-wide settings for fast, reproducible CPU runs."""

from __future__ import annotations

import ctypes
import os
import warnings

import torch


def configure_runtime() -> None:
    """Raise glibc's mmap/trim thresholds (large tensors otherwise trigger page-fault
    storms on every allocation) and pin torch to the available cores."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 1 << 30)
        libc.mallopt(m_trim_threshold, 1 << 30)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    # our own rich bars report progress; silence per-load tqdm bars and a peft/transformers
    # deprecation notice that users cannot act on
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()  # our own one-line errors say what is wrong with a model directory
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


def cache_root() -> "os.PathLike[str]":
    """Where shared artifacts (pretrained base models) are cached across runs."""
    from pathlib import Path

    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lorarecycle"
    return Path(os.environ.get("LORARECYCLE_CACHE", default))


def crash_point(stage: str) -> None:
    """Die as a killed process would (SIGKILL: no cleanup, no handlers) when the environment
    names this stage in LORARECYCLE_CRASH_AT. The fault tests use it to hit stages too short
    to interrupt from outside (writing the report) and check that a re-run repairs them."""
    if os.environ.get("LORARECYCLE_CRASH_AT") == stage:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
