"""Static merges of LoRA adapters (one adapter out). Every method file is imported here,
which registers its methods: a new method file is one more name on this line."""

from . import knots, linear, sparse  # noqa: F401  (registration)
from .methods import MERGE_METHODS

__all__ = ["MERGE_METHODS"]
