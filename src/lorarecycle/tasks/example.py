"""One (prompt, completion) pair: the unit of every training set and test split."""

from __future__ import annotations

from dataclasses import asdict, dataclass


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

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def text(self) -> str:
        return self.prompt + self.completion
