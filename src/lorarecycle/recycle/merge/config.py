"""The `lorarecycle merge` YAML (mergekit-like), validated with unknown fields forbidden.

    method: ties
    adapters:
      - {path: experts/a, weight: 0.5}
      - {path: experts/b, weight: 0.5}
    parameters: {density: 0.2, sign: total}
    rank: 16            # or `tolerance: 0.01`; neither: exact where the method allows
    seed: 0
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from ...config import StrictModel
from ...errors import invalid
from ...inputs import check_seed, read_yaml_mapping
from .params import OutputOptions, OutputRank, Tolerance


class AdapterEntry(StrictModel):
    path: str
    weight: float = 1.0


class MergeConfig(StrictModel):
    method: str
    adapters: list[AdapterEntry] = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)
    rank: OutputRank | None = None
    tolerance: Tolerance | None = None
    seed: int = 0
    dtype: Literal["float32", "float64"] = "float32"

    @model_validator(mode="after")
    def _one_rank_rule(self) -> MergeConfig:
        OutputOptions(rank=self.rank, tolerance=self.tolerance)
        return self


def validate_merge_config(data: Any, source: str) -> MergeConfig:
    try:
        return MergeConfig.model_validate(data)
    except ValidationError as err:
        raise invalid(source, err) from None


def load_merge_config(path: Path) -> MergeConfig:
    data = read_yaml_mapping(path)
    if "seed" in data:  # before pydantic, which takes `seed: true` as 1
        check_seed(data["seed"], f"{path}: field seed")
    cfg = validate_merge_config(data, str(path))
    base = Path(path).parent  # adapter paths are relative to the YAML file
    adapters = [a.model_copy(update={"path": str(base / a.path)}) for a in cfg.adapters]
    return cfg.model_copy(update={"adapters": adapters})
