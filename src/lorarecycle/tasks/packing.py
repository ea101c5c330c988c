"""Join training texts several to a sequence, as pretraining text is read: a fact then
follows other text, instead of always opening its own sequence."""

from __future__ import annotations

from ..seeding import make_rng
from .example import Example


def packed(examples: list[Example], k: int, seed: int, epoch: int) -> list[Example]:
    """The examples in a shuffle drawn for this epoch, `k` per sequence, joined as one text
    (for training with the loss on every token, so nothing is lost by joining). New groups
    every epoch, so each example opens a sequence about one epoch in k and follows other
    text otherwise (fixed groups would never put k-1 of every k examples at a start)."""
    order = make_rng(seed, "pack", str(epoch)).sample(examples, len(examples))
    groups = [order[i : i + k] for i in range(0, len(order), k)]
    return [Example(f"packed:{'+'.join(ex.id for ex in group)}", "packed", " ".join(ex.text for ex in group), "",
                    group[-1].answer) for group in groups]
