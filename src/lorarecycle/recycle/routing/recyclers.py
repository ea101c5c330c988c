"""Routing recyclers: Arrow (ours and PEFT's), output mixtures, one expert per query."""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from peft import ArrowConfig, create_arrow_model
from pydantic import Field

from ...model.load import load_base, load_tokenizer
from ...model.prompting import encode
from ..recycler import RECYCLERS, LibraryInputs, Recycler, Shots, Temperature, at_most_library
from .bank import LOGIT_KINDS
from .layer import Router
from .model import RoutedModel, arrow_selector, build_routed_model, embed, retriever_selector

GENERAL_EXPERT = "general"
Logits = Literal[LOGIT_KINDS]  # routing scores: raw projections or cosines
TopK = Annotated[int, Field(ge=1, description="experts per token (at most the library size)")]


def _general(inputs: LibraryInputs, gks: bool) -> list:
    return list(inputs.general_paths) if gks else []


def _needs_general(params: dict) -> tuple[str, ...]:
    return (GENERAL_EXPERT,) if params.get("gks") else ()


def _arrow(inputs: LibraryInputs, *, top_k: TopK = 1, temperature: Temperature = 1.0, logits: Logits = "raw",
           gks: bool = False) -> RoutedModel:
    router = Router(len(inputs.expert_paths), "token", top_k, temperature, logits)
    return build_routed_model(load_base(inputs.base_path), inputs.expert_paths, inputs.expert_names, router,
                              _general(inputs, gks))


RECYCLERS.register("arrow")(Recycler(
    "arrow", _arrow,
    "per token and layer: softmax over the top-k experts by |<x, v_e>| (v_e: top right singular vector of delta W_e)",
    kind="route", reference_url="https://arxiv.org/abs/2405.11157",
    extra_experts=_needs_general, routes=True, limits=at_most_library("top_k")))


def _arrow_peft(inputs: LibraryInputs, *, top_k: TopK = 1, temperature: Temperature = 1.0,
                gks: bool = False) -> torch.nn.Module:
    config = ArrowConfig(top_k=top_k, router_temperature=temperature, rng_seed=inputs.seed, use_gks=gks)
    general = [str(p) for p in _general(inputs, gks)] or None
    return create_arrow_model(load_base(inputs.base_path), [str(p) for p in inputs.expert_paths], config,
                              general_adapter_paths=general).eval()


RECYCLERS.register("arrow_peft")(Recycler(
    "arrow_peft", _arrow_peft,
    "PEFT's Arrow (reference implementation; prototypes by power iteration, GenKnowSub on factors)",
    kind="route", reference_url="https://huggingface.co/docs/peft/package_reference/lora",
    extra_experts=_needs_general, limits=at_most_library("top_k")))


def _mixture(inputs: LibraryInputs, *, weights: Literal["uniform", "arrow"] = "uniform",
             temperature: Temperature = 1.0, logits: Logits = "raw") -> RoutedModel:
    E = len(inputs.expert_paths)
    router = Router(E, "fixed", weights=torch.full((E,), 1.0 / E))
    router.logits = logits
    selector = arrow_selector("softmax", temperature) if weights == "arrow" else None
    return build_routed_model(load_base(inputs.base_path), inputs.expert_paths, inputs.expert_names, router,
                              selector=selector)


RECYCLERS.register("mixture")(Recycler(
    "mixture", _mixture,
    "output mixture sum_e w_e B_e A_e x without merging: uniform w, or a softmax of prompt-pooled Arrow scores per query",
    kind="route", routes=True))


def _select_arrow(inputs: LibraryInputs, *, logits: Logits = "raw") -> RoutedModel:
    router = Router(len(inputs.expert_paths), "fixed", logits=logits)
    return build_routed_model(load_base(inputs.base_path), inputs.expert_paths, inputs.expert_names, router,
                              selector=arrow_selector("select"))


RECYCLERS.register("select_arrow")(Recycler(
    "select_arrow", _select_arrow,
    "one expert per query: the best prompt-pooled Arrow score (data-free)",
    kind="select", reference_url="https://arxiv.org/abs/2405.11157", routes=True))


def retriever_examples(inputs: LibraryInputs, shots: int) -> list[tuple[int, str]]:
    """(expert index, prompt) pairs: the first `shots` inputs of each expert's few-shot set."""
    return [(e, ex.prompt) for e, name in enumerate(inputs.expert_names)
            for ex in inputs.datasets[inputs.fewshot_sources[name]][:shots]]


def _select_retriever(inputs: LibraryInputs, *, shots: Shots = 5) -> RoutedModel:
    router = Router(len(inputs.expert_paths), "fixed")
    model = build_routed_model(load_base(inputs.base_path), inputs.expert_paths, inputs.expert_names, router)
    pairs = retriever_examples(inputs, shots)
    tokenizer = load_tokenizer(inputs.base_path)
    device = next(model.parameters()).device
    batch = encode(tokenizer, [p for _, p in pairs], return_tensors="pt", padding=True).to(device)
    model.selector = retriever_selector(embed(model, batch["input_ids"], batch["attention_mask"]),
                                        torch.tensor([e for e, _ in pairs], device=device))
    return model


RECYCLERS.register("select_retriever")(Recycler(
    "select_retriever", _select_retriever,
    "one expert per query: most similar few-shot example input (base-model embeddings, LoraRetriever-style)",
    kind="select", reference_url="https://arxiv.org/abs/2402.09997", access="few-shot",
    requirement=lambda params: f"few-shot ({params['shots']}/expert)", routes=True, reads_expert_examples=True))
