"""Across-seed aggregation, the oracle ceiling, routing-trace segments and the few-shot
guard: small hand-checked cases."""

from __future__ import annotations

import math

import pytest

from lorarecycle.errors import UserError
from lorarecycle.evaluate.metrics import wilson_interval
from lorarecycle.evaluate.oracle import ORACLE, oracle_rows
from lorarecycle.evaluate.trace import segments
from lorarecycle.report.aggregate import aggregate
from lorarecycle.tasks.example import Example


def row(model, split, correct, n=10, seed=0, library=None, method="m", **axes):
    low, high = wilson_interval(correct, n)
    return {"model": model, "library": library, "split": split, "method": method, "data_requirement": "data-free",
            "data_access": "data-free",
            "n": n, "correct": correct, "accuracy": correct / n, "ci_low": low, "ci_high": high, "chance": 0.1,
            "axes": {"seed": str(seed), **axes}}


def test_seeds_pool_into_one_group_per_condition_with_t_and_wilson_intervals():
    rows = [row("a", "s", c, seed=i, familiarity="F") for i, c in enumerate((2, 4, 6))]
    rows += [row("a", "s", 9, seed=0, familiarity="R")]
    groups = {g.condition: g for g in aggregate(rows)}
    assert set(groups) == {(("familiarity", "F"),), (("familiarity", "R"),)}  # the seed is not a condition
    f = groups[(("familiarity", "F"),)]
    assert f.accuracies == [0.2, 0.4, 0.6] and f.mean == pytest.approx(0.4)
    half = 4.302653 * 0.2 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n), sd of (.2, .4, .6) = .2
    assert f.interval == pytest.approx((max(0.0, 0.4 - half), 0.4 + half), abs=1e-5)  # clipped to [0, 1]
    assert f.pooled_interval == wilson_interval(12, 30)
    single = groups[(("familiarity", "R"),)]
    assert single.interval == (rows[-1]["ci_low"], rows[-1]["ci_high"])  # one seed: its own Wilson interval


def test_all_zero_seeds_still_get_a_pooled_interval_above_zero():
    group = aggregate([row("a", "s", 0, n=150, seed=i) for i in range(3)])[0]
    assert group.interval == (0.0, 0.0)
    low, high = group.pooled_interval
    assert low == 0.0 and 0.0 < high < 0.01  # 450 questions, none right: below 1%, not "exactly 0"


def test_error_shares_sum_to_one_across_seeds():
    rows = [{**row("a", "s", 2, seed=0), "errors": {"bridge": 5, "other": 3}},
            {**row("a", "s", 4, seed=1), "errors": {"bridge": 1, "other": 5}}]
    shares = aggregate(rows)[0].error_shares()
    assert shares == pytest.approx({"correct": 0.3, "bridge": 0.3, "other": 0.4})
    assert sum(shares.values()) == pytest.approx(1.0)


def test_oracle_picks_the_best_single_expert_per_split_and_skips_incomplete_libraries():
    singles = [row("expert:hop1", "hop1", 9, method="single_expert"), row("expert:hop2", "hop1", 1, method="single_expert"),
               row("expert:hop1", "hop2", 0, method="single_expert"), row("expert:hop2", "hop2", 8, method="single_expert")]
    out = oracle_rows(singles + [row("ties", "hop1", 10)], {"two": ["hop1", "hop2"], "three": ["hop1", "hop2", "skill"]})
    assert [(r["library"], r["split"], r["oracle_of"], r["correct"]) for r in out] == \
        [("two", "hop1", "expert:hop1", 9), ("two", "hop2", "expert:hop2", 8)]
    assert all(r["model"] == ORACLE and r["data_access"] == "oracle" for r in out)


def test_trace_segments_split_a_cot_answer_at_its_sentences():
    ex = Example("x", "cot", "Question: Who? Reasoning:", " The mentor of A is B. The employer of B is C. So C.", "C")
    spans = {name: ex.text[a:b] for name, a, b in segments(ex)}
    assert spans == {"question": "Question: Who? Reasoning:", "hop1": " The mentor of A is B.",
                     "hop2": " The employer of B is C.", "answer": " So C."}
    direct = Example("y", "direct", "Q:", " C.", "C")
    assert [(n, direct.text[a:b]) for n, a, b in segments(direct)] == [("question", "Q:"), ("answer", " C.")]


def test_few_shot_material_is_refused_when_missing_too_small_or_from_test_chains(smoke_cfg):
    from lorarecycle.config import MethodSpec
    from lorarecycle.pipeline import check_fewshot
    from lorarecycle.tasks import task_of

    _, data = task_of(smoke_cfg).build(smoke_cfg)
    check_fewshot(smoke_cfg, data)  # the preset itself is fine

    def with_method(**spec):
        return smoke_cfg.model_copy(update={"methods": [MethodSpec(**spec)]})

    with pytest.raises(UserError, match="unknown example set 'nope'"):
        check_fewshot(with_method(name="lorahub", params={"examples": "nope"}), data)
    with pytest.raises(UserError, match="overlap the test chains"):
        check_fewshot(with_method(name="lorahub", params={"examples": "twohop_cot"}), data)
    n = len(data["fewshot_twohop"])
    with pytest.raises(UserError, match=f"shots={n + 1} but 'fewshot_twohop' has only {n}"):
        check_fewshot(with_method(name="lorahub", params={"shots": n + 1}), data)
    # the default shots count too (LoraHub: 10; the smoke world has 4 few-shot chains)
    if n < 10:
        with pytest.raises(UserError, match="shots=10"):
            check_fewshot(with_method(name="lorahub"), data)
    # the retriever reads every expert's own set
    too_many = len(data["fewshot_hop1"]) + 1
    with pytest.raises(UserError, match=f"shots={too_many}"):
        check_fewshot(with_method(name="select_retriever", params={"shots": too_many}), data)


def test_the_figures_show_the_task_s_own_composed_splits(tmp_path):
    """A math grid's error figure has math panels (never empty two-hop ones), and no figure
    is drawn when no composed split carries an error taxonomy."""
    from lorarecycle.report.grid import make_figures
    from lorarecycle.tasks.math import MATH
    from lorarecycle.tasks.two_hop import TWO_HOP

    errors = {"bridge": 1, "other_entity": 2, "other": 1}
    rows = [{**row("base", split, 6), "errors": errors} for split in ("math_direct", "math_cot")]
    rows += [row("base", "knowledge", 5)]
    figures = make_figures(tmp_path, aggregate(rows), [], MATH)
    assert "errors.png" in figures and (tmp_path / "figures" / "errors.png").is_file()
    assert "errors.png" not in make_figures(tmp_path / "two", aggregate(rows), [], TWO_HOP)  # no two-hop rows
    assert not (tmp_path / "two" / "figures" / "errors.png").exists()
