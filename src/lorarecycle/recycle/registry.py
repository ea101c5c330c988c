"""RECYCLERS with every method file imported (merges, routing, LoraHub)."""

from . import lorahub, merged  # noqa: F401  (register their methods)
from .recycler import RECYCLERS, LibraryInputs, Recycler
from .routing import recyclers  # noqa: F401

__all__ = ["RECYCLERS", "LibraryInputs", "Recycler"]
