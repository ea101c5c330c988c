"""LoraHub: few-shot, gradient-free search of the library's merge weights (nevergrad).

The loss is the answer-token cross-entropy on a few target-task examples plus an L1
penalty on the weights, as in LoraHub. The candidate merge is either LoraHub's own (A and
B combined separately, "factors") or the exact sum of weighted delta Ws ("delta"); each
candidate is written straight into a copy of the base weights, so a step costs one merge
and one forward pass.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import Field
from transformers.pytorch_utils import Conv1D

from ..adapters.lora_io import LoraAdapter, read_adapter
from ..artifacts import write_json
from ..model.load import load_base, load_tokenizer
from ..model.precision import autocast
from ..tasks.example import Example
from ..model.batching import collate, encode_example
from ..ui import progress_bar
from .adapted import load_adapted
from .merge.apply import MergeOptions, merge_adapters, write_merge
from .recycler import RECYCLERS, LibraryInputs, Recycler, Shots

SPACE_METHOD = {"factors": "factor_linear", "delta": "task_arithmetic"}


@torch.no_grad()
def set_updated_weights(model: torch.nn.Module, original: dict[str, torch.Tensor],
                        factors: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Write W_0 + B A into each named module (A, B already scaled, as merges return them)."""
    for name, (A, B) in factors.items():
        module = model.get_submodule(name)
        delta = (B @ A).to(module.weight.device)
        # transformers' Conv1D (GPT-2) stores the weight as (in, out)
        delta = delta.T if isinstance(module, Conv1D) else delta
        module.weight.copy_(original[name] + delta.to(module.weight.dtype))


@torch.no_grad()
def lorahub_search(base_path: Path, adapters: Sequence[LoraAdapter], examples: Sequence[Example], space: str,
                   budget: int, l1: float, bound: float, seed: int) -> dict:
    """Returns {"weights", "loss", "history"}; the same inputs and seed give the same weights."""
    import nevergrad as ng  # seconds to import: only when a search runs

    method = SPACE_METHOD[space]
    # fp32 weights: each candidate's W + delta W is written exactly; bf16 runs autocast the forward
    tokenizer, model = load_tokenizer(base_path), load_base(base_path, torch.float32)
    batch = collate([encode_example(tokenizer, ex, loss_on_prompt=False) for ex in examples], tokenizer.pad_token_id)
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    names = sorted({n for a in adapters for n in a.modules})
    original = {n: model.get_submodule(n).weight.detach().clone() for n in names}

    def objective(weights: np.ndarray) -> float:
        factors, _ = merge_adapters(list(adapters), method, [float(w) for w in weights], {}, MergeOptions())
        set_updated_weights(model, original, factors)
        with autocast(device):
            loss = float(model(**batch).loss)
        return loss + l1 * float(np.abs(weights).mean())

    history = []
    with progress_bar("LoraHub search", budget) as advance, warnings.catch_warnings():
        # LoraHub's bounds with nevergrad's default step, and scipy's COBYLA (one of NGOpt's
        # choices) with its defaults, both warn; neither is a problem here.
        warnings.filterwarnings("ignore", message=".*(COBYLA|sigma away).*")
        parametrization = ng.p.Array(init=np.zeros(len(adapters))).set_bounds(-bound, bound)
        parametrization.random_state = np.random.RandomState(seed)
        optimizer = ng.optimizers.NGOpt(parametrization=parametrization, budget=budget, num_workers=1)
        for _ in range(budget):
            candidate = optimizer.ask()
            value = objective(candidate.value)
            optimizer.tell(candidate, value)
            history.append({"weights": [round(float(w), 6) for w in candidate.value], "loss": value})
            advance(info=f"loss {value:.3f}")
    best = optimizer.provide_recommendation().value
    return {"weights": [float(w) for w in best], "loss": objective(best), "history": history}


def _examples(inputs: LibraryInputs, source: str, shots: int) -> list[Example]:
    return list(inputs.datasets[source][:shots])


Space = Literal[tuple(SPACE_METHOD)]  # merge the factors (LoraHub's original) or the full updates
Budget = Annotated[int, Field(ge=1, description="loss evaluations of the search")]
L1 = Annotated[float, Field(ge=0, description="L1 penalty on the weights")]
Bound = Annotated[float, Field(gt=0, description="weights searched in [-bound, bound]")]


def _lorahub(inputs: LibraryInputs, *, space: Space = "factors", shots: Shots = 10, budget: Budget = 40,
             l1: L1 = 0.05, bound: Bound = 1.5, examples: str | None = None) -> torch.nn.Module:
    adapters = [read_adapter(p) for p in inputs.expert_paths]
    found = lorahub_search(inputs.base_path, adapters, _examples(inputs, examples or inputs.fewshot_examples, shots), space, budget, l1, bound,
                           inputs.seed)
    out = inputs.work_dir / "lorahub"
    write_merge(adapters, SPACE_METHOD[space], out, weights=found["weights"])
    write_json(out / "lorahub_search.json", {"experts": inputs.expert_names, "space": space, "shots": shots, **found})
    return load_adapted(inputs.base_path, out)


RECYCLERS.register("lorahub")(Recycler(
    "lorahub", _lorahub,
    "few-shot gradient-free search (nevergrad NGOpt) of merge weights in [-bound, bound] with an L1 penalty",
    kind="search", reference_url="https://arxiv.org/abs/2307.13269", access="few-shot",
    requirement=lambda params: f"few-shot ({params['shots']})",
    example_sets=lambda params: (params.get("examples", ""),)))  # "" = the task's few-shot examples
