"""A linear layer (nn.Linear, or transformers' Conv1D: A and B act on x the same way) plus a bank of LoRA experts whose outputs a shared Router gates.

Hand-written rather than PEFT's Arrow layer: we need cosine logits, fixed per-sequence
weights (mixtures, selection), GenKnowSub in exact delta-W space, and a record of every
gate for routing traces, none of which PEFT exposes. PEFT's Arrow stays available as the
reference (`arrow_peft`) and the tests check that both route the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .bank import ExpertBank, arrow_logits, logits_from_projections, top_k_softmax

MODES = ("token", "fixed", "observe", "off")


@dataclass
class Router:
    """Routing state shared by every RoutedLinear of one model.

    token    Arrow: per token and layer, softmax over the top-k |<x, prototype>| logits
    fixed    `weights` (batch, E) or (E,) for every token and layer (mixtures, selection)
    observe  no update; accumulate each sequence's prompt-mean logits into `pooled`
    off      the base model alone
    """

    n_experts: int
    mode: str = "token"
    top_k: int = 1
    temperature: float = 1.0
    logits: str = "raw"
    weights: torch.Tensor | None = None
    mask: torch.Tensor | None = None  # (batch, seq) prompt mask while observing
    pooled: torch.Tensor | None = None  # (batch, E) sum over layers of prompt-mean logits
    n_pooled: int = 0
    record: list[tuple[str, torch.Tensor]] | None = None  # (layer name, gates) while tracing


class RoutedLinear(nn.Module):
    def __init__(self, base: nn.Module, bank: ExpertBank, router: Router, name: str):
        super().__init__()
        self.base, self.router, self.name = base, router, name
        self.n_experts = bank.n_experts
        # Prototypes first, then every expert's A rows: one matmul gives logits and x A^T.
        self.register_buffer("fused", torch.cat([bank.prototypes, bank.A]), persistent=False)
        self.register_buffer("B", bank.B, persistent=False)
        self.register_buffer("owner", bank.owner, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        router = self.router
        if router.mode == "off":
            return y
        # The experts' path runs in fp32 (factors kept fp32, autocast off) and is added to the
        # base output in fp32: a bf16 base never rounds a small delta W away.
        with torch.autocast(x.device.type, enabled=False):
            if router.mode == "observe":
                self._observe(x.float())
                return y
            return y + self._delta(x.float())

    def _observe(self, x: torch.Tensor) -> None:
        router, E = self.router, self.n_experts
        logits = arrow_logits(x, self.fused[:E], router.logits)
        mask = router.mask.to(logits.dtype)[..., None]
        pooled = (logits * mask).sum(1) / mask.sum(1).clamp_min(1)
        router.pooled = pooled if router.pooled is None else router.pooled + pooled
        router.n_pooled += 1

    def _delta(self, x: torch.Tensor) -> torch.Tensor:
        router, E = self.router, self.n_experts
        if router.mode == "token":
            z = x @ self.fused.T
            logits = logits_from_projections(z[..., :E], x, router.logits)
            gates, h = top_k_softmax(logits, router.top_k, router.temperature), z[..., E:]
        elif router.mode == "fixed":
            w = router.weights.to(device=x.device, dtype=torch.float32)
            gates, h = (w[:, None, :] if w.dim() == 2 else w), x @ self.fused[E:].T
        else:
            raise ValueError(f"unknown routing mode {router.mode!r}; known: {', '.join(MODES)}")
        if router.record is not None:
            router.record.append((self.name, gates.detach().float().expand(*x.shape[:-1], E).cpu()))
        return (h * gates[..., self.owner]) @ self.B.T

