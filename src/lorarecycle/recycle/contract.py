"""A method's parameters are its function's keyword-only arguments: their annotations
(ranges, `Literal` choices) and defaults are the contract, turned into a strict pydantic
model and checked before any work starts (mergekit's `easy_define` idea). One contract for
merge methods, routing, selection and LoraHub."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import UnionType
from typing import Annotated, Literal, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic.fields import FieldInfo

from ..errors import UserError, invalid

NOT_PARAMETERS = ("generator",)  # keyword-only arguments the caller supplies, never the user


def signature_model(name: str, fn: Callable) -> type[BaseModel]:
    """The model of `fn`'s keyword-only arguments: strict (no "no" for a bool, no bool for a
    number), no NaN or infinity, unknown names refused, defaults validated too."""
    hints = get_type_hints(fn, include_extras=True)
    fields = {p.name: (hints[p.name], p.default) for p in inspect.signature(fn).parameters.values()
              if p.kind is p.KEYWORD_ONLY and p.name not in NOT_PARAMETERS}
    config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, validate_default=True)
    return create_model(f"{name}_params", __config__=config, **fields)


def describe(model: type[BaseModel]) -> list[str]:
    """Each parameter as `name=default (rule)`, the rule read from its annotation."""
    return [f"{name}={field.default} ({rule(field)})" for name, field in model.model_fields.items()]


def rule(field: FieldInfo) -> str:
    """What a valid value is, read from the annotation: `int >= 1`, `ties|dare_ties`, `int >= 1 or null`."""
    return _rule_of(field.annotation, field.metadata)


def _rule_of(tp: object, metadata: list) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "|".join(map(str, get_args(tp)))
    if origin is Annotated:
        base, *extra = get_args(tp)
        return _rule_of(base, [m for e in extra for m in (e.metadata if isinstance(e, FieldInfo) else [e])])
    if origin in (Union, UnionType):
        kinds = [_rule_of(a, metadata) for a in get_args(tp) if a is not type(None)]
        return " or ".join(kinds + (["null"] if type(None) in get_args(tp) else []))
    bounds = [f"{op} {getattr(m, attr)}" for m in metadata
              for attr, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
              if getattr(m, attr, None) is not None]
    return " ".join([getattr(tp, "__name__", str(tp)), *bounds])


def validate_params(label: str, model: type[BaseModel], params: dict) -> dict:
    """`params` validated, defaults filled in, or one UserError naming `label` and the parameter."""
    unknown = [k for k in params if k not in model.model_fields]
    if unknown:
        raise UserError(f"{label}: unknown parameter {unknown[0]!r}. Known: {', '.join(model.model_fields) or 'none'}")
    try:
        return model.model_validate(params).model_dump()
    except ValidationError as err:
        raise invalid(label, err, what="parameter") from None


def schema(model: type[BaseModel]) -> dict[str, dict]:
    """Machine-readable contract: {name: {default, rule}} (`lorarecycle methods --json`)."""
    return {name: {"default": field.default, "rule": rule(field)} for name, field in model.model_fields.items()}
