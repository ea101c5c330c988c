"""One (prompt, completion) pair: the unit of every training set and test split."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Example:
    id: str
    kind: str  # fact | direct | cot
    prompt: str
    completion: str
    answer: str
    chain: str = ""
    bridge: str = ""
    subject: str = ""  # the entity a chain-of-thought answer must restate first (two-hop: A)
    exposed: bool = False  # its chain's facts (some of them) are in pretraining
    # whether its prompt carries loss in training; None: as the training stage says. Set by
    # material whose prompt is context only (a chain form's invented first step)
    loss_on_prompt: bool | None = None
    # a replayed example that also carries the distillation term toward the base (replay_kl)
    distill: bool = False

    def to_dict(self) -> dict:
        # the masking and the distillation are the training spec's choices (hashed with it), not
        # the example's content: left out, so data files and stage keys read the text alone
        return {k: v for k, v in asdict(self).items() if k not in ("loss_on_prompt", "distill")}

    @property
    def text(self) -> str:
        return self.prompt + self.completion


def in_context(ex: Example, facts: str) -> Example:
    """The same question with the facts it needs stated before it."""
    return replace(ex, id=f"incontext:{ex.id}", prompt=f"{facts} {ex.prompt}")
