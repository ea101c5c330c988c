"""LoraHub: deterministic search, bounded weights, and the merge it writes."""

from __future__ import annotations

import json

import torch

from lorarecycle.adapters.lora_io import read_adapter
from lorarecycle.recycle.lorahub import lorahub_search
from lorarecycle.recycle.recycler import LibraryInputs
from lorarecycle.recycle.build import RECYCLERS
from lorarecycle.tasks.example import Example

from .helpers import make_peft_adapter

EXAMPLES = [Example(f"x{i}", "direct", "question who is the mentor of the employer", " mentor.", "mentor")
            for i in range(3)]


def test_same_seed_same_weights_and_bounds_respected(tiny_base, tmp_path):
    paths = [tmp_path / "a", tmp_path / "b"]
    for i, p in enumerate(paths):
        make_peft_adapter(tiny_base, p, seed=40 + i)
    adapters = [read_adapter(p) for p in paths]
    runs = [lorahub_search(tiny_base, adapters, EXAMPLES, "factors", budget=8, l1=0.05, bound=0.5, seed=3)
            for _ in range(2)]
    assert runs[0]["weights"] == runs[1]["weights"]
    assert [h["loss"] for h in runs[0]["history"]] == [h["loss"] for h in runs[1]["history"]]
    assert all(abs(w) <= 0.5 for h in runs[0]["history"] for w in h["weights"])
    assert len({tuple(h["weights"]) for h in runs[0]["history"]}) > 1  # it did explore
    assert runs[0]["loss"] <= runs[0]["history"][0]["loss"] + 1e-6  # no worse than the start (all zeros)


def test_delta_space_writes_the_exact_weighted_sum(tiny_base, tmp_path):
    paths = [tmp_path / "a", tmp_path / "b"]
    for i, p in enumerate(paths):
        make_peft_adapter(tiny_base, p, seed=50 + i)
    inputs = LibraryInputs(tiny_base, paths, ["a", "b"], tmp_path / "work", seed=0, datasets={"fewshot_twohop": EXAMPLES})
    RECYCLERS.get("lorahub").build(inputs, space="delta", shots=3, budget=5)
    out = tmp_path / "work" / "lorahub"
    weights = json.loads((out / "lorahub_search.json").read_text())["weights"]
    merged, adapters = read_adapter(out), [read_adapter(p) for p in paths]
    for name, module in merged.modules.items():
        dense = sum(w * a.modules[name].delta() for w, a in zip(weights, adapters))
        assert torch.allclose(module.delta(), dense, atol=1e-5)
