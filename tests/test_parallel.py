"""Worker processes for independent jobs: same results as inline, errors surface, one thread per job."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from lorarecycle.errors import UserError
from lorarecycle.parallel import JobRunner, worker_count

CPU = torch.device("cpu")


def seeded_matmul(seed: int) -> tuple[int, float, int]:
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(64, 64, generator=g), torch.randn(64, 64, generator=g)
    return seed, float((a @ b).sum()), torch.get_num_threads()


def fails(message: str) -> None:
    raise UserError(message)


def test_pool_and_inline_jobs_give_the_same_results_with_one_thread_each(monkeypatch):
    jobs = [partial(seeded_matmul, s) for s in range(5)]
    monkeypatch.setenv("LORARECYCLE_WORKERS", "1")
    with JobRunner(CPU) as runner:
        inline = dict((i, r) for i, r in runner.run(jobs))
    monkeypatch.setenv("LORARECYCLE_WORKERS", "2")
    with JobRunner(CPU) as runner:
        pooled = dict(runner.run(jobs))
        again = dict(runner.run(jobs[:2]))  # the pool is reused by a later batch
        assert runner._pool is not None
    assert runner._pool is None  # terminated on exit
    assert inline == pooled and again == {0: pooled[0], 1: pooled[1]}
    assert {r[2] for r in pooled.values()} == {1}


def test_a_failing_job_raises_its_error_in_the_parent(monkeypatch):
    monkeypatch.setenv("LORARECYCLE_WORKERS", "2")
    with JobRunner(CPU) as runner, pytest.raises(UserError, match="bad adapter"):
        list(runner.run([partial(seeded_matmul, 0), partial(fails, "bad adapter")]))


def test_worker_count_follows_the_environment(monkeypatch):
    monkeypatch.setenv("LORARECYCLE_WORKERS", "3")
    assert worker_count(CPU) == 3
    assert worker_count(torch.device("cuda")) == 1
    monkeypatch.setenv("LORARECYCLE_WORKERS", "zero")
    with pytest.raises(UserError, match="LORARECYCLE_WORKERS"):
        worker_count(CPU)
