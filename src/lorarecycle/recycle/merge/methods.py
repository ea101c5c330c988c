"""The merge-method contract and its registry.

A method is a pure function `fn(modules, weights, *, generator, **params)` returning a
`LowRank` pair or a dense delta W; its keyword parameters and defaults (read from the
signature) are the parameters users may set. Import MERGE_METHODS from `.registry`,
which imports every method file."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from ...errors import UserError
from ...registry import Registry


@dataclass(frozen=True)
class MergeMethod:
    name: str
    fn: Callable
    space: str  # "delta": exact low-rank in delta W | "dense": entrywise | "factors": A, B separately
    summary: str
    averages: bool = False  # default weights 1/n (an average) rather than 1 each (a sum, lambda = 1)
    truncates: bool = False  # has its own `rank` parameter (svd): exact when an output rank is asked for

    def default_weights(self, n: int) -> list[float]:
        return [1.0 / n] * n if self.averages else [1.0] * n

    @property
    def params(self) -> dict[str, object]:
        sig = inspect.signature(self.fn)
        return {p.name: p.default for p in sig.parameters.values()
                if p.kind is p.KEYWORD_ONLY and p.name != "generator"}

    def check_params(self, params: dict) -> None:
        known = self.params
        for key, value in params.items():
            if key not in known:
                raise UserError(f"merge method {self.name!r}: unknown parameter {key!r}. "
                                f"Known: {', '.join(known) or 'none'}")
            default = known[key]
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    raise UserError(f"merge method {self.name!r}: {key} must be a number, got {value!r}")
        for key in ("density",):
            if key in params and not 0 < params[key] <= 1:
                raise UserError(f"merge method {self.name!r}: density must be in (0, 1], got {params[key]}")
        if "rank" in params and (isinstance(params["rank"], bool) or not isinstance(params["rank"], int)
                                 or params["rank"] < 0):
            raise UserError(f"merge method {self.name!r}: rank must be an integer >= 0, got {params['rank']!r}")
        if "drop" in params and not 0 <= params["drop"] < 1:
            raise UserError(f"merge method {self.name!r}: drop must be in [0, 1), got {params['drop']}")


MERGE_METHODS: Registry[MergeMethod] = Registry("merge method")


def merge_method(name: str, space: str, summary: str, averages: bool = False,
                 truncates: bool = False) -> Callable[[Callable], Callable]:
    def decorator(fn: Callable) -> Callable:
        MERGE_METHODS.register(name)(MergeMethod(name, fn, space, summary, averages, truncates))
        return fn

    return decorator
