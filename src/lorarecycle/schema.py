"""The base of every config section: strict pydantic models (unknown fields refused, frozen,
no NaN/inf) and names that become file names. Below config and tasks, which both define
sections."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=-]{0,99}")


def safe_name(value: str) -> str:
    """Names that become file names (experiment, library, label): no separator, no '..'."""
    if not SAFE_NAME.fullmatch(value) or ".." in value:
        raise ValueError(f"{value!r} is not a safe name: use letters, digits and _ . + = - "
                         "(at most 100, starting with a letter or digit, no '..')")
    return value


SafeName = Annotated[str, AfterValidator(safe_name)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # NaN/inf never a setting
