"""Parameter types of the merge methods: annotations on their signatures are the contract
(`MergeMethod.param_model` validates against them before any work starts)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Density = Annotated[float, Field(gt=0, le=1, description="share of entries kept")]
Drop = Annotated[float, Field(ge=0, lt=1, description="DARE drop probability")]
Sign = Literal["total", "frequency"]  # TIES sign election
Scale = Annotated[float, Field(description="a finite multiplier")]
OwnRank = Annotated[int, Field(ge=0, description="0: the largest input rank")]

# Options of every merge (not of one method): the output's rank, fixed or by error tolerance.
OutputRank = Annotated[int, Field(ge=1, description="fixed output rank")]
Tolerance = Annotated[float, Field(ge=0, lt=1, description="smallest rank with relative error <= tolerance")]


class OutputOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    rank: OutputRank | None = None
    tolerance: Tolerance | None = None

    @model_validator(mode="after")
    def _one_rank_rule(self) -> OutputOptions:
        if self.rank is not None and self.tolerance is not None:
            raise ValueError("give rank or tolerance, not both")
        return self
