"""Shared fixtures: an isolated cache, the smoke config, a tiny random base model."""

from __future__ import annotations

import os

# Under pytest-xdist (`make test` starts one worker per core) each worker owns one core, pinned
# here, before torch loads: libgomp sizes its spin-waiting by the CPUs it sees when it loads,
# and a worker pinned after that spins pretraining's two threads on one core (measured: the
# smoke base 55x slower). CLI children inherit the pin; runtime.configure_runtime sizes their
# thread pools by it, so workers never share a core.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if WORKER:
    CORES = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {CORES[int(WORKER.removeprefix("gw")) % len(CORES)]})

import json  # noqa: E402
import subprocess  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from lorarecycle.config import ModelSpec, load_preset  # noqa: E402
from lorarecycle.model.tiny import build_tiny_llama  # noqa: E402
from lorarecycle.model.tokenizer import build_tokenizer  # noqa: E402


def pytest_configure(config):
    if WORKER:
        torch.set_num_threads(1)  # the worker's own library-level tests: one thread on its core


# Module-scoped fixtures that build something costly (a grid, random HF bases, a library):
# their tests stay together on one worker, so no two workers build the same fixture.
COSTLY_MODULE_FIXTURES = {"uninterrupted", "hf_bases", "model", "tree", "library", "experts", "default_run"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if COSTLY_MODULE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's base-model cache."""
    monkeypatch.setenv("LORARECYCLE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(autouse=True)
def fp32_by_default(monkeypatch):
    """Library-level tests compute in fp32 on every machine (a run's `precision` overrides it)."""
    monkeypatch.setenv("LORARECYCLE_PRECISION", "fp32")


@pytest.fixture
def on_cpu(monkeypatch):
    """For a test that feeds a model the library loads (on the run's device: the GPU where
    one is visible) inputs or a reference it builds on the CPU. On an H200 these tests failed
    (docs/results/gpu-h200), while 316 others passed there."""
    from lorarecycle.model.device import DEVICE_ENV

    monkeypatch.setenv(DEVICE_ENV, "cpu")


@pytest.fixture(scope="session")
def smoke_cfg():
    return load_preset("smoke")


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """A randomly initialised tiny Llama saved as an HF directory with its tokenizer."""
    path = tmp_path_factory.mktemp("tiny_base")
    tokenizer = build_tokenizer(["mentor", "employer", "neighbor"])
    spec = ModelSpec(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, max_positions=64)
    model = build_tiny_llama(spec, tokenizer, seed=0)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def experts(tiny_base, tmp_path_factory):
    """Two random PEFT adapters on the tiny base (e0, e1)."""
    from .helpers import make_peft_adapter

    root = tmp_path_factory.mktemp("experts")
    for i in range(2):
        make_peft_adapter(tiny_base, root / f"e{i}", seed=10 + i)
    return root


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One real smoke experiment through the CLI, shared by the tests that read it
    (root/run, its cache root/cache): under xdist the first worker to ask builds it and the
    others wait, so every test only reads it or damages a copy."""
    from lorarecycle.artifacts import file_lock

    from .helpers import cli

    shared = tmp_path_factory.getbasetemp()
    if WORKER:
        shared = shared.parent  # the session's directory above the workers' own
    root, done = shared / "smoke", shared / "smoke-result.json"
    with file_lock(done):
        if not done.is_file():
            result = cli("run", "--preset", "smoke", "--out", str(root / "run"), cache=root / "cache")
            assert result.returncode == 0, result.stderr[-3000:]
            done.write_text(json.dumps({"args": result.args, "returncode": result.returncode,
                                        "stdout": result.stdout, "stderr": result.stderr}))
    return root, subprocess.CompletedProcess(**json.loads(done.read_text()))
