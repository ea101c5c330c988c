"""docs/extending.md's merge method, as written there: one function, one decorator, and it
merges exactly (a dense reference) and is, in the one registry, a recycling method of kind
merge that an experiment builds like any other."""

from __future__ import annotations

from typing import Annotated

import pytest
import torch
from pydantic import Field

from lorarecycle.adapters.lora_io import read_adapter
from lorarecycle.errors import UserError
from lorarecycle.recycle.merge.apply import merge_adapter_dirs
from lorarecycle.recycle.merge.methods import MERGE_METHODS, merge_method
from lorarecycle.recycle.merge.ops import LowRank, stack_factors
from lorarecycle.recycle.build import RECYCLERS, LibraryInputs, build_recycled


@pytest.fixture
def scaled_sum():
    @merge_method("scaled_sum", space="delta", summary="c * sum_i w_i delta W_i (exact)")
    def scaled_sum(modules, weights, *, generator,
                   c: Annotated[float, Field(gt=0, description="overall scale")] = 0.5) -> LowRank:
        return stack_factors(modules, [c * w for w in weights])

    yield MERGE_METHODS.get("scaled_sum")
    RECYCLERS._entries.pop("scaled_sum")  # the registry as the package builds it, for the other tests


def test_a_new_merge_method_is_one_decorated_function(scaled_sum, experts, tmp_path):
    paths = [experts / "e0", experts / "e1"]
    merge_adapter_dirs(paths, "scaled_sum", tmp_path / "out", weights=[1.0, -2.0], params={"c": 0.25})
    adapters = [read_adapter(p) for p in paths]
    merged = read_adapter(tmp_path / "out")
    for name, module in merged.modules.items():
        expected = 0.25 * (adapters[0].modules[name].delta() - 2.0 * adapters[1].modules[name].delta())
        torch.testing.assert_close(module.delta(), expected, rtol=1e-5, atol=1e-6)
    assert scaled_sum.params == {"c": 0.5}  # the signature is the contract
    with pytest.raises(UserError, match="c"):
        scaled_sum.check_params({"c": -1.0})
    recycler = RECYCLERS.get("scaled_sum")  # the one registry: an experiment's method too
    assert recycler.kind == "merge" and recycler.check({"c": 2.0, "rank": 4}, library_size=2)["c"] == 2.0


def test_an_experiment_builds_the_new_merge_method_as_any_other(scaled_sum, experts, tiny_base, tmp_path):
    inputs = LibraryInputs(tiny_base, [experts / "e0", experts / "e1"], ["e0", "e1"], tmp_path / "work", seed=0)
    model = build_recycled("scaled_sum", inputs, {"c": 0.5})
    assert (tmp_path / "work" / "scaled_sum" / "adapter_model.safetensors").is_file()
    merged = read_adapter(tmp_path / "work" / "scaled_sum")
    adapters = [read_adapter(experts / "e0"), read_adapter(experts / "e1")]
    name = next(iter(merged.modules))
    torch.testing.assert_close(merged.modules[name].delta(), 0.5 * (adapters[0].modules[name].delta()
                                                                     + adapters[1].modules[name].delta()),
                               rtol=1e-5, atol=1e-6)
    assert sum(p.numel() for p in model.parameters()) > 0


@pytest.fixture
def pets_task(monkeypatch, tmp_path):
    from lorarecycle.tasks import TASKS

    from .toy_task import TASK

    TASKS.register("pets")(TASK)  # the one registration line (tasks/__init__.py for a task in the tree)
    monkeypatch.setenv("LORARECYCLE_WORKERS", "1")  # spawned workers import the package, not this test
    monkeypatch.setenv("LORARECYCLE_CACHE", str(tmp_path / "cache"))
    yield TASK
    TASKS._entries.pop("pets")


def test_a_new_task_is_one_file_and_one_registration_line(pets_task, smoke_cfg, tmp_path):
    from lorarecycle.config import ExperimentConfig
    from lorarecycle.pipeline import run_experiment
    from lorarecycle.report.gates import REFERENCE

    data = smoke_cfg.model_dump(mode="json") | {
        "name": "pets", "task": "pets", "libraries": {}, "references": [REFERENCE],
        "methods": [{"name": "uniform_factors"}, {"name": "arrow", "params": {"top_k": 1}},
                    {"name": "select_retriever", "params": {"shots": 2}}]}
    data["world"] = {**data["world"], "n_incontext": 0}
    cfg = ExperimentConfig.model_validate(data)
    assert cfg.libraries == {"two": ["pet", "food"]}  # the task's built-in library
    rows = run_experiment(cfg, tmp_path / "run")
    models = {(r["model"], r["library"]) for r in rows}
    assert {("base", None), ("expert:pet", None), ("expert:food", None), (REFERENCE, None), ("uniform_factors", "two"),
            ("arrow", "two"), ("select_retriever", "two")} <= models
    splits = {r["split"] for r in rows}
    assert splits == set(pets_task.catalog.test_splits)
    owner_cot = next(r for r in rows if r["model"] == "base" and r["split"] == "owner_cot")
    assert "first_hop_accuracy" in owner_cot  # the task's step parser scored the CoT
    report = (tmp_path / "run" / "report.md").read_text()
    assert "owner_cot" in report and "twohop" not in report
    assert "base None" not in report  # a task without in-context checks has none in Gate 0
