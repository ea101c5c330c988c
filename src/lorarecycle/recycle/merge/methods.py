"""The merge-method contract and its registry.

A method is a pure function `fn(modules, weights, *, generator, **params)` returning a
`LowRank` pair or a dense delta W; its keyword parameters, their annotated types and
defaults (read from the signature) are the parameters users may set and their contract.
`merge_method` registers it in the one registry of recycling methods (kind merge);
MERGE_METHODS is that registry's view of them; `merge/__init__.py` imports every method
file, so importing the package registers them all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from pydantic import BaseModel, create_model

from ..contract import describe, signature_model, validate_params
from ..recycler import MERGE_METHODS, RECYCLERS, Recycler
from .params import OutputOptions

__all__ = ["MERGE_METHODS", "MergeMethod", "merge_method"]


@dataclass(frozen=True)
class MergeMethod:
    name: str
    fn: Callable
    space: str  # "delta": on the low-rank delta Ws (from the factors) | "dense": entrywise on dense delta Ws | "factors": A, B separately
    summary: str
    averages: bool = False  # default weights 1/n (an average) rather than 1 each (a sum, lambda = 1)
    truncates: bool = False  # has its own `rank` parameter (svd): exact when an output rank is asked for
    sets_rank: bool = False  # its output rank is the method itself (cat: the sum of the input ranks)

    @property
    def takes_output_rank(self) -> bool:
        """Whether the output rank/tolerance options apply: not when the method fixes the rank
        (cat) or combines A and B separately (their rank is the inputs')."""
        return self.space != "factors" and not self.sets_rank

    def default_weights(self, n: int) -> list[float]:
        return [1.0 / n] * n if self.averages else [1.0] * n

    @property
    def params(self) -> dict[str, object]:
        return {name: f.default for name, f in self.param_model.model_fields.items()}

    @cached_property
    def param_model(self) -> type[BaseModel]:
        """The parameters users may set: the keyword-only arguments of `fn` (see `contract.py`)."""
        return signature_model(self.name, self.fn)

    def describe_params(self) -> list[str]:
        return describe(self.param_model)

    def check_params(self, params: dict) -> dict:
        """`params` validated (defaults filled in), or one UserError naming the parameter."""
        return validate_params(f"merge method {self.name!r}", self.param_model, params)


# Merge options a recycling config may set next to the method's own parameters.
MERGE_OPTION_KEYS = ("rank", "tolerance")


def recycling_contract(spec: MergeMethod) -> type[BaseModel]:
    """What an experiment's `params` may hold for this merge: its own parameters, and the
    output rank/tolerance unless the method sets its rank itself; svd's own `rank` is left to
    the output rank (exact, see apply)."""
    if not spec.takes_output_rank:
        return spec.param_model
    own = {name: (f.annotation, f) for name, f in spec.param_model.model_fields.items() if name not in MERGE_OPTION_KEYS}
    return create_model(f"{spec.name}_recycler_params", __base__=OutputOptions, **own)


def _register(spec: MergeMethod, reference_url: str = "") -> MergeMethod:
    """One entry in the one registry of recycling methods, of kind merge."""
    RECYCLERS.register(spec.name)(Recycler(spec.name, None, spec.summary, kind="merge", reference_url=reference_url,
                                           contract=recycling_contract(spec), merge=spec))
    return spec


def merge_method(name: str, space: str, summary: str, *, averages: bool = False, truncates: bool = False,
                 sets_rank: bool = False, reference_url: str = "") -> Callable[[Callable], Callable]:
    """Register `fn(modules, weights, *, generator, **params)` as the merge method `name`."""
    def decorator(fn: Callable) -> Callable:
        _register(MergeMethod(name, fn, space, summary, averages, truncates, sets_rank), reference_url)
        return fn

    return decorator
