"""RECYCLERS with every method file imported (merges, routing, LoraHub), and how an
experiment builds any of them."""

import torch

from . import lorahub  # noqa: F401  (registers its method)
from . import merge  # noqa: F401  (registers every merge method)
from .merged import build_merged
from .recycler import KINDS, MERGE_METHODS, RECYCLERS, LibraryInputs, Recycler
from .routing import recyclers  # noqa: F401  (registers the routing and selection methods)


def build_recycled(name: str, inputs: LibraryInputs, params: dict) -> torch.nn.Module:
    """The model recycling method `name` builds from a library, whatever its kind."""
    method = RECYCLERS.get(name)
    if method.kind == "merge":
        return build_merged(method, inputs, **params)
    return method.build(inputs, **params)


__all__ = ["KINDS", "MERGE_METHODS", "RECYCLERS", "LibraryInputs", "Recycler", "build_recycled"]
