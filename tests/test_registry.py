import pytest

from lorarecycle.errors import UserError
from lorarecycle.recycle.merge.registry import MERGE_METHODS
from lorarecycle.recycle.registry import RECYCLERS
from lorarecycle.registry import Registry


def test_unknown_name_suggests_and_lists():
    reg: Registry[int] = Registry("thing")
    reg.register("uniform")(1)
    reg.register("arrow")(2)
    with pytest.raises(UserError, match=r"Did you mean 'arrow'\?.*Available: arrow, uniform"):
        reg.get("arow")


def test_duplicate_registration_raises():
    reg: Registry[int] = Registry("thing")
    reg.register("a")(1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(2)


def test_every_merge_method_is_a_recycling_method():
    expected = {"linear", "task_arithmetic", "ties", "dare_linear", "dare_ties", "magnitude_prune", "cat", "svd",
                "knots", "factor_linear", "uniform_delta", "uniform_factors"}
    assert set(MERGE_METHODS) == expected
    assert expected | {"arrow"} <= set(RECYCLERS)


def test_merge_params_are_checked():
    ties = RECYCLERS.get("ties")
    ties.check({"density": 0.3, "sign": "frequency", "rank": 8}, library_size=2)
    with pytest.raises(UserError, match="unknown parameter 'densty'. Known: density, sign"):
        ties.check({"densty": 0.3}, 2)
    with pytest.raises(UserError, match="parameter density: Input should be less than or equal to 1"):
        ties.check({"density": 1.5}, 2)


def test_recycler_rejects_unknown_params_and_bad_top_k():
    arrow = RECYCLERS.get("arrow")
    arrow.check({"top_k": 2, "temperature": 0.5}, library_size=2)
    with pytest.raises(UserError, match="unknown parameter 'topk'"):
        arrow.check({"topk": 1}, library_size=2)
    with pytest.raises(UserError, match="top_k=3 must be an integer between 1 and the library size 2"):
        arrow.check({"top_k": 3}, library_size=2)
