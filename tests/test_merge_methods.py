"""Every merge method against a brute-force dense reference, plus property tests."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lorarecycle.adapters.lora_io import LoraModule
from lorarecycle.config import MethodSpec
from lorarecycle.errors import UserError
from lorarecycle.recycle.merge.ops import LowRank, gram_svd, rank_for_tolerance, truncate
from lorarecycle.recycle.merge import MERGE_METHODS

D_OUT, D_IN = 9, 7


def random_modules(seed: int, ranks=(2, 4, 3)) -> list[LoraModule]:
    g = torch.Generator().manual_seed(seed)
    return [LoraModule(torch.randn(r, D_IN, generator=g, dtype=torch.float64),
                       torch.randn(D_OUT, r, generator=g, dtype=torch.float64), 0.5 + i) for i, r in enumerate(ranks)]


def run(method: str, modules, weights, seed: int = 0, **params) -> torch.Tensor:
    out = MERGE_METHODS.get(method).fn(modules, weights, generator=torch.Generator().manual_seed(seed), **params)
    return out.B @ out.A if isinstance(out, LowRank) else out


def dense(modules) -> list[np.ndarray]:
    return [m.scale * (m.B.numpy() @ m.A.numpy()) for m in modules]


def top_density(x: np.ndarray, density: float) -> np.ndarray:
    k = int(density * x.size)
    order = np.argsort(-np.abs(x).ravel(), kind="stable")
    out = np.zeros(x.size)
    out[order[:k]] = x.ravel()[order[:k]]
    return out.reshape(x.shape)


def ties_reference(tensors: list[np.ndarray], weights, sign: str) -> np.ndarray:
    """Entry by entry, as the paper describes it."""
    out = np.zeros(tensors[0].shape)
    for idx in np.ndindex(out.shape):
        vals = [t[idx] for t in tensors]
        if sign == "total":
            s = np.sign(sum(w * v for w, v in zip(weights, vals)))
        else:
            s = np.sign(sum(np.sign(w * v) for w, v in zip(weights, vals)))
        agree = [(w, v) for w, v in zip(weights, vals) if v != 0 and np.sign(v) == s]
        if agree:
            out[idx] = sum(w * v for w, v in agree) / sum(w for w, _ in agree)
    return out


W = [0.5, 0.3, 0.2]


def close(x: torch.Tensor, ref: np.ndarray, tol: float = 1e-10) -> None:
    err = np.linalg.norm(x.numpy() - ref) / max(np.linalg.norm(ref), 1e-300)
    assert err <= tol, err


def test_linear_task_arithmetic_cat_factor_linear_against_dense():
    mods = random_modules(0)
    d = dense(mods)
    close(run("linear", mods, W), sum(w * x for w, x in zip(W, d)) / sum(W))
    close(run("linear", mods, [2.0, 1.0, 1.0], normalize=False), 2 * d[0] + d[1] + d[2])
    close(run("task_arithmetic", mods, W, lam=0.7), 0.7 * sum(w * x for w, x in zip(W, d)))
    close(run("cat", mods, W), sum(w * x for w, x in zip(W, d)))
    same_rank = random_modules(1, ranks=(3, 3, 3))
    B = sum(w * m.scale * m.B.numpy() for w, m in zip(W, same_rank))
    A = sum(w * m.A.numpy() for w, m in zip(W, same_rank))
    close(run("factor_linear", same_rank, W), B @ A)
    Bs = sum(math.sqrt(w) * m.scale * m.B.numpy() for w, m in zip(W, same_rank))
    As = sum(math.sqrt(w) * m.A.numpy() for w, m in zip(W, same_rank))
    close(run("factor_linear", same_rank, W, sqrt_weights=True), Bs @ As)


@pytest.mark.parametrize("rank", [1, 3, 7])
def test_svd_is_the_best_rank_k_approximation(rank):
    mods = random_modules(2)
    total = sum(w * x for w, x in zip(W, dense(mods)))
    u, s, vh = np.linalg.svd(total, full_matrices=False)
    best = (u[:, :rank] * s[:rank]) @ vh[:rank]
    close(run("svd", mods, W, rank=rank), best, tol=1e-9)


@pytest.mark.parametrize("sign", ["total", "frequency"])
@pytest.mark.parametrize("density", [0.2, 0.5, 1.0])
def test_ties_and_magnitude_prune_against_entrywise_reference(sign, density):
    mods = random_modules(3)
    trimmed = [top_density(x, density) for x in dense(mods)]
    close(run("ties", mods, W, density=density, sign=sign), ties_reference(trimmed, W, sign))
    close(run("magnitude_prune", mods, W, density=density), sum(w * t for w, t in zip(W, trimmed)))


def test_dare_is_seeded_unbiased_and_exact_at_zero_drop():
    mods = random_modules(4)
    target = sum(w * x for w, x in zip(W, dense(mods)))
    a, b = run("dare_linear", mods, W, seed=5, drop=0.3), run("dare_linear", mods, W, seed=5, drop=0.3)
    assert torch.equal(a, b) and not torch.equal(a, run("dare_linear", mods, W, seed=6, drop=0.3))
    close(run("dare_linear", mods, W, drop=0.0), target)
    mean = sum(run("dare_linear", mods, W, seed=s, drop=0.5) for s in range(600)) / 600
    assert np.abs(mean.numpy() - target).max() < 0.15 * np.abs(target).max()  # rescale keeps the mean
    kept = (run("dare_linear", mods[:1], [1.0], seed=1, drop=0.5) != 0).double().mean()
    assert 0.35 < kept < 0.65
    close(run("dare_ties", mods, W, drop=0.0, sign="total"), ties_reference(dense(mods), W, "total"))


def knots_reference(mods, weights, merge: str, density: float = 0.2) -> np.ndarray:
    d = dense(mods)
    R = sum(m.rank for m in mods)
    u, s, vh = np.linalg.svd(np.hstack(d), full_matrices=False)
    u, s, vh = u[:, :R], s[:R], vh[:R]
    V = np.split(vh, len(mods), axis=1)
    if merge == "task_arithmetic":
        merged = sum(w * v for w, v in zip(weights, V))
    elif merge == "magnitude_prune":
        merged = sum(w * top_density(v, density) for w, v in zip(weights, V))
    else:
        merged = ties_reference([top_density(v, density) for v in V], weights, "total")
    return (u * s) @ merged


@pytest.mark.parametrize("merge", ["task_arithmetic", "ties", "magnitude_prune"])
def test_knots_against_dense_svd_alignment(merge):
    mods = random_modules(5)
    ref = knots_reference(mods, W, merge)
    close(run("knots", mods, W, merge=merge), ref, tol=1e-8)
    if merge == "task_arithmetic":  # aligned coordinates merged linearly = plain weighted sum
        close(run("knots", mods, W, merge=merge), sum(w * x for w, x in zip(W, dense(mods))), tol=1e-9)


def test_rank_for_tolerance_is_smallest_rank_meeting_it():
    S = torch.tensor([4.0, 2.0, 1.0, 0.5, 0.0])
    for tol in (0.0, 0.05, 0.2, 0.5, 1.0):
        errors = [float(torch.sqrt((S[k:] ** 2).sum() / (S**2).sum())) for k in range(len(S) + 1)]
        expected = max(1, next(k for k, e in enumerate(errors) if e <= tol))
        assert rank_for_tolerance(S, tol) == expected


IDENTITY_CASES = {
    "linear": {}, "task_arithmetic": {}, "cat": {}, "svd": {}, "factor_linear": {},
    "ties": {"density": 1.0}, "magnitude_prune": {"density": 1.0}, "dare_linear": {"drop": 0.0},
    "dare_ties": {"drop": 0.0}, "knots": {"merge": "task_arithmetic"}, "uniform_delta": {}, "uniform_factors": {},
}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), rank=st.integers(1, 5))
def test_one_adapter_with_weight_one_merges_to_itself(seed, rank):
    (mod,) = random_modules(seed, ranks=(rank,))
    for method, params in IDENTITY_CASES.items():
        close(run(method, [mod], [1.0], **params), dense([mod])[0], tol=1e-9)


SYMMETRIC = ["linear", "task_arithmetic", "cat", "svd", "ties", "magnitude_prune", "knots"]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), perm=st.permutations([0, 1, 2]))
def test_symmetric_methods_ignore_input_order(seed, perm):
    mods = random_modules(seed)
    for method in SYMMETRIC:
        params = {"rank": 9} if method == "svd" else {}
        a = run(method, mods, W, **params)
        b = run(method, [mods[i] for i in perm], [W[i] for i in perm], **params)
        close(b, a.numpy(), tol=1e-8)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_cat_equals_untruncated_svd(seed):
    mods = random_modules(seed)
    close(run("svd", mods, W, rank=sum(m.rank for m in mods)), run("cat", mods, W).numpy(), tol=1e-9)


@pytest.mark.parametrize("shape", [(30, 12), (12, 30)])
@pytest.mark.parametrize("rank", [1, 4, 12])
def test_gram_svd_truncation_matches_numpy_best_rank_k(shape, rank):
    g = torch.Generator().manual_seed(rank)
    M = torch.randn(*shape, generator=g, dtype=torch.float64) @ torch.diag(torch.logspace(0, -3, shape[1], dtype=torch.float64))
    pair, err = truncate(*gram_svd(M), rank)
    u, s, vh = np.linalg.svd(M.numpy(), full_matrices=False)
    close(pair.B @ pair.A, (u[:, :rank] * s[:rank]) @ vh[:rank], tol=1e-9)
    assert err == pytest.approx(np.sqrt((s[rank:] ** 2).sum() / (s**2).sum()), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("density", [0.2, 0.37, 1.0])
def test_trimming_methods_equal_peft_merge_utils_on_dense_deltas(density):
    """Same rounding of density*numel as PEFT (and mergekit): the same config, the same adapter."""
    from peft.utils import merge_utils

    g = torch.Generator().manual_seed(3)
    modules = [LoraModule(torch.randn(3, 10, generator=g), torch.randn(7, 3, generator=g), 0.5) for _ in range(3)]
    deltas = torch.stack([m.delta() for m in modules])
    ones = torch.ones(3)
    expected = merge_utils.magnitude_prune(deltas, ones, density)
    torch.testing.assert_close(run("magnitude_prune", modules, [1.0] * 3, density=density), expected)
    # TIES with unit weights: PEFT's mean over kept entries equals the disjoint weighted mean
    expected = merge_utils.ties(deltas, ones, density, majority_sign_method="total")
    torch.testing.assert_close(run("ties", modules, [1.0] * 3, density=density), expected)


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("ties", {"sign": "majority"}, "parameter sign: Input should be 'total' or 'frequency'"),
        ("dare_ties", {"drop": True}, "parameter drop: Input should be a valid number"),
        ("ties", {"density": 0}, "parameter density: Input should be greater than 0"),
        ("task_arithmetic", {"lam": float("inf")}, "parameter lam: Input should be a finite number"),
        ("linear", {"normalize": "no"}, "parameter normalize: Input should be a valid boolean"),
        ("svd", {"rank": "8"}, "parameter rank: Input should be a valid integer"),
        ("knots", {"merge": "foo"}, "parameter merge: Input should be 'magnitude_prune', 'ties', 'dare_linear', "
                                    "'dare_ties' or"),
        ("ties", {"densty": 0.2}, "unknown parameter 'densty'. Known: density, sign"),
    ],
)
def test_method_parameters_are_checked_against_their_annotations(method, params, message):
    with pytest.raises(UserError, match=re.escape(f"merge method {method!r}: {message}")):
        MERGE_METHODS.get(method).check_params(params)


def test_every_method_parameter_is_typed_and_defaults_pass_their_own_contract():
    for name in MERGE_METHODS:
        spec = MERGE_METHODS.get(name)
        fields = spec.param_model.model_fields
        assert all(f.annotation is not None and f.annotation is not object for f in fields.values()), name
        assert spec.check_params({}) == spec.params  # defaults filled in, and validated (validate_default)
    assert MERGE_METHODS.get("ties").describe_params() == ["density=0.2 (float > 0 <= 1)", "sign=total (total|frequency)"]


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ({"name": "knots", "params": {"merge": "foo"}}, "parameter merge"),
        ({"name": "svd", "params": {"rank": 0}}, "method 'svd': parameter rank: Input should be greater than or equal to 1"),
        ({"name": "svd", "params": {"rank": 4, "tolerance": 0.1}}, "give rank or tolerance, not both"),
        ({"name": "ties", "params": {"tolerance": -1}}, "parameter tolerance: Input should be greater than or equal to 0"),
    ],
)
def test_a_run_refuses_bad_merge_parameters_before_any_work(smoke_cfg, method, message):
    from lorarecycle.pipeline import validate

    cfg = smoke_cfg.model_copy(update={"methods": [MethodSpec(**method)]})
    with pytest.raises(UserError, match=re.escape(message)):
        validate(cfg)


@pytest.mark.parametrize("method", ["cat", "uniform_factors", "factor_linear"])
def test_methods_that_set_their_own_rank_refuse_output_rank_options(method):
    from lorarecycle.recycle.merge.apply import MergeOptions, merge_adapters
    from lorarecycle.recycle.build import RECYCLERS

    assert not MERGE_METHODS.get(method).takes_output_rank
    with pytest.raises(UserError, match="unknown parameter 'rank'"):
        RECYCLERS.get(method).check({"rank": 4}, 2)
    with pytest.raises(UserError, match=f"merge method {method!r} sets its own output rank"):
        merge_adapters([], method, [], {}, MergeOptions(rank=4))
    assert MERGE_METHODS.get("task_arithmetic").takes_output_rank and MERGE_METHODS.get("ties").takes_output_rank
