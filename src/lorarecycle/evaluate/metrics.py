"""Accuracy with a 95% Wilson interval, and the two-hop error taxonomy."""

from __future__ import annotations

import math

ERROR_KINDS = ("bridge", "other_entity", "other")


def wilson_interval(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion (well-behaved at 0 and 1)."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # the interval always holds p: at p = 0 or 1, rounding can leave centre - half at 1e-18
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


def classify_error(pred: str, bridge: str, entities: set[str]) -> str:
    """Why a two-hop answer is wrong: it stopped at the bridge entity B, named another
    known entity, or produced something else. All strings are normalised."""
    if bridge and pred == bridge:
        return "bridge"
    if pred in entities:
        return "other_entity"
    return "other"
