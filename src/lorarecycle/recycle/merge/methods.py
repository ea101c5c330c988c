"""The merge-method contract and its registry.

A method is a pure function `fn(modules, weights, *, generator, **params)` returning a
`LowRank` pair or a dense delta W; its keyword parameters, their annotated types and
defaults (read from the signature) are the parameters users may set and their contract. Import MERGE_METHODS from `.registry`,
which imports every method file."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ...errors import UserError, invalid
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
        return {name: f.default for name, f in self.param_model.model_fields.items()}

    @cached_property
    def param_model(self) -> type[BaseModel]:
        """The parameters users may set: the keyword-only arguments of `fn`, typed by their
        annotations (constraints included, see `params.py`), validated strictly (no "no" for
        a bool, no bool for a number, no NaN) before any work starts."""
        hints = get_type_hints(self.fn, include_extras=True)
        fields = {p.name: (hints[p.name], p.default) for p in inspect.signature(self.fn).parameters.values()
                  if p.kind is p.KEYWORD_ONLY and p.name != "generator"}
        config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, validate_default=True)
        return create_model(f"{self.name}_params", __config__=config, **fields)

    def describe_params(self) -> list[str]:
        """Each parameter as `name=default (rule)`, the rule read from its annotation."""
        out = []
        for name, field in self.param_model.model_fields.items():
            if get_origin(field.annotation) is Literal:
                rule = "|".join(map(str, get_args(field.annotation)))
            else:
                bounds = [f"{op} {getattr(m, attr)}" for m in field.metadata
                          for attr, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
                          if getattr(m, attr, None) is not None]
                rule = " ".join([field.annotation.__name__, *bounds])
            out.append(f"{name}={field.default} ({rule})")
        return out

    def check_params(self, params: dict) -> dict:
        """`params` validated (defaults filled in), or one UserError naming the parameter."""
        unknown = [k for k in params if k not in self.param_model.model_fields]
        if unknown:
            raise UserError(f"merge method {self.name!r}: unknown parameter {unknown[0]!r}. "
                            f"Known: {', '.join(self.param_model.model_fields) or 'none'}")
        try:
            return self.param_model.model_validate(params).model_dump()
        except ValidationError as err:
            raise invalid(f"merge method {self.name!r}", err, what="parameter") from None


MERGE_METHODS: Registry[MergeMethod] = Registry("merge method")


def merge_method(name: str, space: str, summary: str, averages: bool = False,
                 truncates: bool = False) -> Callable[[Callable], Callable]:
    def decorator(fn: Callable) -> Callable:
        MERGE_METHODS.register(name)(MergeMethod(name, fn, space, summary, averages, truncates))
        return fn

    return decorator
