"""A causal LM whose adapted layers route between LoRA experts, and the ways to route:
per token (Arrow), fixed weights (output mixtures), one expert per query (selection)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn
from transformers import PreTrainedModel

from ...adapters.lora_io import LoraAdapter, read_adapter
from ...errors import UserError
from ...model.targets import ADAPTABLE
from .bank import build_bank
from .layer import Router, RoutedLinear

# selector(model, input_ids, attention_mask) -> (batch, E) weights for the whole query
Selector = Callable[["RoutedModel", torch.Tensor, torch.Tensor], torch.Tensor]


class RoutedModel(nn.Module):
    def __init__(self, model: PreTrainedModel, router: Router, expert_names: Sequence[str],
                 selector: Selector | None = None):
        super().__init__()
        self.model, self.router, self.expert_names, self.selector = model, router, list(expert_names), selector
        self.choices: Counter = Counter()  # selection counts per expert since the last pop

    def forward(self, *args, **kwargs):
        return self.model(*args, **kwargs)

    def score(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, prompt_mask: torch.Tensor, **kwargs):
        """A forward pass routed as `generate` routes: a selector sees the prompt tokens only
        (`prompt_mask`), never the continuation being scored."""
        with self.routed_as_prompted(input_ids, prompt_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        with self.routed_as_prompted(input_ids, attention_mask) as weights:
            if weights is not None:
                self.choices.update(self.expert_names[i] for i in weights.argmax(-1).tolist())
            return self.model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    @contextmanager
    def routed_as_prompted(self, input_ids: torch.Tensor | None, attention_mask: torch.Tensor | None,
                           weights: torch.Tensor | None = None):
        """Route a pass over these prompts as `generate` does, and yield the per-query weights:
        a selector picks from the prompt tokens (or takes `weights`, the choice an earlier pass
        over the same prompts made; None without a selector), then holds that choice; a
        per-token router routes each token as it comes (a cached prompt routes the same)."""
        if self.selector is None:
            yield None
            return
        weights = self.selector(self, input_ids, attention_mask) if weights is None else weights
        with self.routing("fixed", weights=weights):
            yield weights

    @contextmanager
    def routing(self, mode: str, **state):
        """Temporarily route in another mode (the Router's other fields restored after)."""
        saved = {k: getattr(self.router, k) for k in ("mode", *state)}
        for key, value in {"mode": mode, **state}.items():
            setattr(self.router, key, value)
        try:
            yield self.router
        finally:
            for key, value in saved.items():
                setattr(self.router, key, value)

    def pop_choices(self) -> dict[str, float]:
        """Share of queries sent to each expert by a selector since the last call."""
        total = sum(self.choices.values())
        shares = {n: self.choices[n] / total for n in self.expert_names} if total else {}
        self.choices = Counter()
        return shares

    @torch.no_grad()
    def trace(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
              prompt_length: int | None = None) -> dict[str, torch.Tensor]:
        """Gates per adapted layer for one teacher-forced pass: {layer name: (batch, seq, E)}.
        A selector sees only the first `prompt_length` tokens, as in `generate`."""
        self.router.record = []
        try:
            if self.selector is not None:
                n = prompt_length or input_ids.shape[1]
                weights = self.selector(self, input_ids[:, :n], attention_mask[:, :n])
                with self.routing("fixed", weights=weights):
                    self.model(input_ids=input_ids, attention_mask=attention_mask)
            else:
                self.model(input_ids=input_ids, attention_mask=attention_mask)
            return dict(self.router.record)
        finally:
            self.router.record = None


def check_library(paths: Sequence[Path]) -> list[LoraAdapter]:
    if not paths:
        raise UserError("routing needs at least one expert adapter; the library is empty")
    return [read_adapter(p) for p in paths]


def build_routed_model(base: PreTrainedModel, expert_paths: Sequence[Path], expert_names: Sequence[str],
                       router: Router, general_paths: Sequence[Path] = (), selector: Selector | None = None) -> RoutedModel:
    """Replace every linear layer some expert adapts by a RoutedLinear over all experts."""
    experts = check_library(expert_paths)
    general = [read_adapter(p) for p in general_paths]
    names = sorted({n for a in experts for n in a.modules})
    for name in names:
        try:
            linear = base.get_submodule(name)
        except AttributeError:
            raise UserError(f"{experts[0].path}: module {name} is not in the base model") from None
        if not isinstance(linear, ADAPTABLE):
            raise UserError(f"module {name} is a {type(linear).__name__}; routing supports nn.Linear and Conv1D layers")
        bank = build_bank([a.modules.get(name) for a in experts], [g.modules[name] for g in general if name in g.modules])
        parent, _, attr = name.rpartition(".")
        layer = RoutedLinear(linear, bank, router, name).to(device=linear.weight.device)  # factors stay fp32
        setattr(base.get_submodule(parent) if parent else base, attr, layer)
    return RoutedModel(base.eval(), router, expert_names, selector).eval()


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.to(hidden.dtype)[..., None]
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1)


def arrow_selector(kind: str, temperature: float = 1.0) -> Selector:
    """Data-free, per query: pool each layer's Arrow logits over the prompt (base model's
    activations), average over layers, then pick the best expert ("select") or softmax
    the scores ("softmax")."""

    def select(model: RoutedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        with model.routing("observe", mask=attention_mask, pooled=None, n_pooled=0) as router:
            model.model(input_ids=input_ids, attention_mask=attention_mask)
            scores = router.pooled / router.n_pooled
        if kind == "select":
            return nn.functional.one_hot(scores.argmax(-1), scores.shape[-1]).float()
        return torch.softmax(scores / temperature, dim=-1)

    return select


@torch.no_grad()
def embed(model: RoutedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Base model's last hidden state, mean over the prompt tokens, unit norm."""
    with model.routing("off"):
        out = model.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
    return nn.functional.normalize(masked_mean(out.hidden_states[-1].float(), attention_mask), dim=-1)


def retriever_selector(examples: torch.Tensor, owners: torch.Tensor) -> Selector:
    """Few-shot, per query (LoraRetriever-style, with the base model as the encoder): the
    expert whose example inputs are most similar (max cosine) to the query."""

    def select(model: RoutedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        sims = embed(model, input_ids, attention_mask) @ examples.T  # (batch, n_examples)
        E = model.router.n_experts
        best = torch.stack([sims[:, owners == e].max(-1).values for e in range(E)], dim=-1)
        return nn.functional.one_hot(best.argmax(-1), E).float()

    return select
