"""The math task's config section, `math` (familiarity and exposure come from `world`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from ...schema import StrictModel
from .templates import MAX_NUMBER


class MathSpec(StrictModel):
    """Sizes of the math word-problem task (familiarity and exposure come from `world`)."""

    n_test_items: int = Field(100, ge=1, description="items whose price only the knowledge expert learns")
    n_fewshot_items: int = Field(10, ge=1, description="items the knowledge expert learns, never tested")
    n_procedure_items: int = Field(60, ge=1, description="items of the procedure expert's problems (the test "
                                   "shop's rule applied, the price stated)")
    n_familiar_items: int = Field(80, ge=2, description="items whose prices pretraining teaches")
    problems_per_item: int = Field(3, ge=1, description="problems per procedure / pretraining item")
    control_frac: float = Field(0.25, gt=0, lt=1, description="familiar items held out for the control split")
    control_problems_per_item: int = Field(
        8, ge=1, description="control problems per held-out familiar item, each a different (buyer, count): 8 x 20 "
        "items = 160 at the default sizes, a matched control of >= 150 problems")
    n_buyers: int = Field(20, ge=1, description="buyer names (familiar and test each)")
    max_count: int = Field(9, ge=2, le=9)
    max_price: int = Field(13, ge=2, le=99, description="prices 2..max_price: a guessed price is right ~1/12 of "
                           "the time at 13")
    max_fee: int = Field(9, ge=2, le=99, description="each shop's fee per bag, 1..max_fee (the test shop's and the "
                         "pretrained shop's differ): a guessed fee is right ~1/9 of the time at 9")

    NOT_PRETRAINED: ClassVar[set[str]] = {"control_problems_per_item"}  # held-out evaluation only

    @model_validator(mode="after")
    def _numbers_are_tokens(self) -> "MathSpec":
        largest = self.max_count * (self.max_price + self.max_fee)
        if largest > MAX_NUMBER:
            raise ValueError(f"max_count x (max_price + max_fee) = {largest} exceeds {MAX_NUMBER}, the largest number "
                             "the task writes as one token")
        return self

    @model_validator(mode="after")
    def _control_problems_are_distinct(self) -> "MathSpec":
        if self.control_problems_per_item > self.n_buyers * (self.max_count - 1):
            raise ValueError(f"control_problems_per_item {self.control_problems_per_item} exceeds the "
                             f"{self.n_buyers * (self.max_count - 1)} distinct (buyer, count) pairs of an item")
        return self
