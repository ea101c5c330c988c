import pytest

from lorarecycle.errors import UserError
from lorarecycle.recycle.merge import MERGE_METHODS
from lorarecycle.recycle.build import RECYCLERS
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
    with pytest.raises(UserError, match="unknown parameter 'densty'. Known: rank, tolerance, density, sign"):
        ties.check({"densty": 0.3}, 2)
    with pytest.raises(UserError, match="parameter density: Input should be less than or equal to 1"):
        ties.check({"density": 1.5}, 2)


def test_recycler_rejects_unknown_params_and_bad_top_k():
    arrow = RECYCLERS.get("arrow")
    arrow.check({"top_k": 2, "temperature": 0.5}, library_size=2)
    with pytest.raises(UserError, match="unknown parameter 'topk'"):
        arrow.check({"topk": 1}, library_size=2)
    with pytest.raises(UserError, match="top_k=3 must be between 1 and the library size 2"):
        arrow.check({"top_k": 3}, library_size=2)


def bad_values(field) -> list[object]:
    """Values the annotation refuses: a wrong type, and each bound or choice just missed."""
    from typing import Literal, get_origin

    from lorarecycle.recycle.contract import rule

    if get_origin(field.annotation) is Literal:
        return ["not-a-choice", 1]
    text = rule(field)
    kind = text.split()[0]
    out: list[object] = {"int": ["8", 1.5, True], "float": ["0.5", True, float("nan"), float("inf")],
                         "bool": ["no", 1], "str": [3]}[kind]
    for op, value in zip(text.split()[1::2], text.split()[2::2]):
        if op in (">", ">=", "<", "<="):
            edge = float(value) if kind == "float" else int(float(value))
            step = 1 if kind == "int" else 0
            out.append({">": edge, ">=": edge - (step or 1e-3), "<": edge, "<=": edge + (step or 1e-3)}[op])
    return out


def test_every_parameter_of_every_method_refuses_bad_values_in_one_line_naming_it():
    """Table-driven over the registry: each method, each parameter, each bad value."""
    checked = 0
    for method in RECYCLERS:
        recycler = RECYCLERS.get(method)
        assert recycler.check({}, library_size=2) is not None  # defaults pass their own contract
        with pytest.raises(UserError, match=f"method {method!r}: unknown parameter 'bogus'"):
            recycler.check({"bogus": 1}, 2)
        for name, field in recycler.param_model.model_fields.items():
            for value in bad_values(field):
                with pytest.raises(UserError) as err:
                    recycler.check({name: value}, 2)
                message = str(err.value)
                assert message.startswith(f"method {method!r}: ") and name in message and "\n" not in message, \
                    (method, name, value, message)
                checked += 1
    assert checked > 60
