"""Seeds: math takes an explicit generator; training seeds torch once per stage."""

from __future__ import annotations

import hashlib
import random

import torch


def derive_seed(seed: int, *labels: str) -> int:
    """A stable sub-seed for one named stage, so stages do not share random streams."""
    digest = hashlib.sha256(":".join([str(seed), *labels]).encode()).hexdigest()
    return int(digest[:8], 16)


def make_rng(seed: int, *labels: str) -> random.Random:
    return random.Random(derive_seed(seed, *labels))


def seed_torch(seed: int) -> torch.Generator:
    """Seed torch's global RNG (used by module init and dropout) and return a private generator."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
