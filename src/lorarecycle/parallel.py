"""Independent jobs (one adapter's training, one model's evaluation) on CPU worker processes.

The models of these experiments are small: one job leaves much of a second core idle
(Python overhead between small matmuls, short sequences), so two one-thread jobs on two
cores finish sooner than one two-thread job at a time (the default run on 2 cores:
evaluation 293 s -> 191 s, adapter trainings ~220 s -> ~175 s, every row identical).
Every job runs with one thread whatever the pool size, so a result does not depend on how
many cores the machine has. On a GPU, jobs run one after another in this process.

Why not concurrent.futures: multiprocessing.Pool can terminate its workers at once on
Ctrl-C or an error, instead of waiting for running jobs to finish.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch

from .inputs import WORKERS_ENV, parse_workers
from .runtime import configure_runtime

MAX_DEFAULT_WORKERS = 8  # each worker holds its own model copy; more only when asked for
PLAIN_PROGRESS_ENV = "LORARECYCLE_PLAIN_PROGRESS"  # workers share a terminal: plain lines, no bars


def worker_count(device: torch.device) -> int:
    """Worker processes for CPU jobs: $LORARECYCLE_WORKERS, else one per available core."""
    if device.type != "cpu":
        return 1
    return parse_workers(os.environ.get(WORKERS_ENV, "")) or max(
        1, min(MAX_DEFAULT_WORKERS, len(os.sched_getaffinity(0))))


@contextmanager
def threads(n: int) -> Iterator[None]:
    saved = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def _exit_on_sigterm(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # already on the way out: once is enough
    raise SystemExit(143)


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    # Stopped by the parent (pool.terminate): exit through Python, so the worker's finalizers
    # release what it registered (no "leaked semaphore" warnings after an interrupted run).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    os.environ[PLAIN_PROGRESS_ENV] = "1"
    configure_runtime()
    torch.set_num_threads(1)


class JobRunner:
    """Runs batches of jobs; on a CPU with several cores, on one pool of worker processes that
    is started at the first batch that needs it and kept for later ones (a worker's start,
    importing torch and transformers, costs seconds)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.workers = worker_count(device)
        self._pool = None

    def run(self, jobs: Sequence[Callable[[], Any]]) -> Iterator[tuple[int, Any]]:
        """Yield (index, result) of each job (a picklable zero-argument callable, e.g. a partial
        of a module-level function) as it finishes; a job's exception is raised here."""
        if self.device.type != "cpu":
            yield from enumerate(job() for job in jobs)
        elif self.workers <= 1 or len(jobs) <= 1 and self._pool is None:
            with threads(1):
                for i, job in enumerate(jobs):
                    yield i, job()
        else:
            if self._pool is None:
                self._pool = multiprocessing.get_context("spawn").Pool(self.workers, initializer=_init_worker)
            yield from self._pool.imap_unordered(_indexed, list(enumerate(jobs)))

    def close(self, graceful: bool = True) -> None:
        """Let idle workers exit on their own; `graceful=False` (Ctrl-C, an error) stops
        running jobs at once, so no job outlives the run."""
        if self._pool is not None:
            if graceful:
                self._pool.close()
            else:
                self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> "JobRunner":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(graceful=exc_type is None)


def _indexed(item: tuple[int, Callable[[], Any]]) -> tuple[int, Any]:
    index, job = item
    return index, job()
