"""Registered merge methods: name -> function of (modules, weights, **params) -> (A, B)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...registry import Registry
from . import ops


@dataclass(frozen=True)
class MergeMethod:
    name: str
    fn: Callable
    space: str  # "delta" (exact in delta W) or "factors" (A and B combined separately)
    summary: str


MERGE_METHODS: Registry[MergeMethod] = Registry("merge method")

for _method in (
    MergeMethod("uniform_delta", ops.weighted_concat, "delta", "exact mean of delta W = s B A (rank sum r_i)"),
    MergeMethod("uniform_factors", ops.factor_average, "factors", "mean of A and mean of B separately (mttl-style)"),
):
    MERGE_METHODS.register(_method.name)(_method)
