"""Seeds: every stage gets its own sub-seed derived from the experiment seed and a label."""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *labels: str) -> int:
    """A stable sub-seed for one named stage, so stages do not share random streams."""
    digest = hashlib.sha256(":".join([str(seed), *labels]).encode()).hexdigest()
    return int(digest[:8], 16)


def make_rng(seed: int, *labels: str) -> random.Random:
    return random.Random(derive_seed(seed, *labels))

