"""Gates and step-by-step scoring against hand-checked rows and samples."""

from pathlib import Path

from lorarecycle.evaluate.evaluator import score_steps, summarize_steps
from lorarecycle.evaluate.composition import composition_given_knowledge, pool
from lorarecycle.report.gates import attributable, diagnostics, differences_to_reference, evaluate_gates
from lorarecycle.report.verdict import headline
from lorarecycle.tasks.math import templates as M
from lorarecycle.tasks.two_hop import TWO_HOP
from lorarecycle.tasks.example import Example
from lorarecycle.tasks.two_hop.templates import cot_steps

EX = Example("cot:test-0", "cot", "Question: Who is the employer of the mentor of Vize Zoli? Reasoning:",
             " The mentor of Vize Zoli is Bove Saru. The employer of Bove Saru is Kato Rimu. So the answer is Kato Rimu.",
             "Kato Rimu", "test-0", "Bove Saru", "Vize Zoli")


def steps(generation):
    return score_steps(cot_steps(generation), cot_steps(EX.completion), EX.id)


def test_steps_of_hand_checked_generations():
    assert steps(EX.completion) == {"subject_correct": True, "first_hop_correct": True, "second_hop_correct": True}
    # a familiar name instead of the subject (the failure a base without copying shows)
    wrong_subject = " the mentor of viso dite is bove saru. the employer of bove saru is kato rimu. so the answer is kato rimu."
    assert steps(wrong_subject) == {"subject_correct": False, "first_hop_correct": True, "second_hop_correct": True}
    # subject right, first hop wrong, second hop follows the wrong bridge
    assert steps(" The mentor of Vize Zoli is Lapi Fiva. The employer of Lapi Fiva is Zubi Ko.") == {
        "subject_correct": True, "first_hop_correct": False, "second_hop_correct": False}
    # one sentence only, then nonsense
    assert steps(" The mentor of Vize Zoli is Bove Saru") == {
        "subject_correct": True, "first_hop_correct": True, "second_hop_correct": False}
    assert steps(" so so so") == {"subject_correct": False, "first_hop_correct": False, "second_hop_correct": False}
    # the right entities under the wrong relations: the outer relation applied to the subject
    # names the bridge (a one-sentence CoT a real LM wrote), and the hops' relations swapped
    assert steps(" The employer of Vize Zoli is Bove Saru. So the answer is Bove Saru.") == {
        "subject_correct": True, "first_hop_correct": False, "second_hop_correct": False}
    assert steps(" The employer of Vize Zoli is Bove Saru. The mentor of Bove Saru is Kato Rimu.") == {
        "subject_correct": True, "first_hop_correct": False, "second_hop_correct": False}


def test_a_gold_completion_the_parser_cannot_read_is_an_error_not_a_wrong_step():
    import pytest

    with pytest.raises(ValueError, match="cannot read its gold completion"):
        score_steps(cot_steps(EX.completion), cot_steps(" Kato Rimu."), "x")


def test_second_hop_is_scored_given_a_right_first_hop():
    samples = [{"subject_correct": True, "first_hop_correct": True, "second_hop_correct": True},
               {"subject_correct": True, "first_hop_correct": True, "second_hop_correct": False},
               {"subject_correct": False, "first_hop_correct": False, "second_hop_correct": True}]
    assert summarize_steps(samples) == {"subject_accuracy": 2 / 3, "first_hop_accuracy": 2 / 3,
                                        "second_hop_given_first": 0.5}
    assert summarize_steps(samples[2:])["second_hop_given_first"] is None


def test_math_steps():
    solved = " A bag of Kato costs 3 coins. At Zuri a bag costs 2 coins more. 3 plus 2 is 5. 4 times 5 is 20. So the answer is 20."
    assert M.cot_steps(solved) == ("kato", "3", "20") and M.stated_rule(solved) == ("zuri", "2")
    # the rule skipped: the product sits where the rule should be, so no total is read
    assert M.cot_steps(" A bag of Kato costs 3 coins. 4 times 3 is 12. So the answer is 12.") == ("kato", "3", "")
    assert M.cot_steps(" A bag of Rimu costs 3 coins. At Zuri a bag costs") == ("rimu", "3", "")


def row(model, split, accuracy, library=None, n=150, **extra):
    return {"model": model, "library": library, "split": split, "accuracy": accuracy, "ci_low": accuracy - 0.08,
            "n": n, "correct": round(accuracy * n), "data_access": "data-free" if library else "none", **extra}


PASSING = [row("base", "twohop_cot", 0.0, subject_accuracy=0.97), row("base", "incontext_twohop_cot", 0.3),
           row("base", "control_matched_cot", 0.8), row("union_replay", "hop1", 1.0), row("union_replay", "hop2", 0.96),
           row("union_replay", "retention", 0.6), row("union_replay", "twohop_cot", 0.6, first_hop_accuracy=0.9),
           row("uniform", "twohop_cot", 0.1, library="two")]
# each gate check: (model, split, field, a failing value)
CHECKS = [("base", "twohop_cot", "subject_accuracy", 0.94), ("base", "control_matched_cot", "accuracy", 0.69),
          ("union_replay", "hop1", "accuracy", 0.94), ("union_replay", "hop2", "accuracy", 0.94),
          ("union_replay", "twohop_cot", "first_hop_accuracy", 0.79), ("union_replay", "twohop_cot", "accuracy", 0.49),
          ("union_replay", "twohop_cot", "ci_low", 0.29)]


def with_value(rows, model, split, field, value):
    return [{**r, field: value} if (r["model"], r["split"]) == (model, split) else r for r in rows]


def test_gates_pass_on_working_controls_whatever_the_diagnostics_say():
    gates = evaluate_gates(PASSING, TWO_HOP, exposure=0.0, exposure_hop="both")
    assert [g["passed"] for g in gates] == [True, None, True]  # gate 1 needs exposure 1.0
    assert attributable(gates)
    # composition in context and retention are diagnostics: at 0 they fail no gate
    low = with_value(with_value(PASSING, "base", "incontext_twohop_cot", "accuracy", 0.0),
                     "union_replay", "retention", "accuracy", 0.0)
    assert attributable(evaluate_gates(low, TWO_HOP, 0.0, "both"))
    assert [c["check"] for c in diagnostics(low, TWO_HOP)] == ["base incontext_twohop_cot", "union_replay retention"]


def test_each_gate_check_fails_its_gate_below_its_threshold():
    for model, split, field, value in CHECKS:
        gates = evaluate_gates(with_value(PASSING, model, split, field, value), TWO_HOP, 0.0, "both")
        failed = [c["check"] for g in gates for c in g["checks"] if c["passed"] is False]
        assert len(failed) == 1 and split in failed[0], (model, split, field, failed)
        assert not attributable(gates)


def test_the_matched_control_is_the_matched_chains_only():
    graph_paths_low = PASSING + [row("base", "control_cot", 0.1)]
    assert attributable(evaluate_gates(graph_paths_low, TWO_HOP, 0.0, "both"))
    assert TWO_HOP.matched_control == "control_matched_cot" and TWO_HOP.matched_control in TWO_HOP.base_checks


def test_a_missing_reference_leaves_gate2_unmeasured():
    gates = evaluate_gates([r for r in PASSING if r["model"] != "union_replay"], TWO_HOP, 0.0, "both")
    assert gates[2]["passed"] is None and not attributable(gates)
    assert "cannot tell" in headline([([r for r in PASSING if r["model"] != "union_replay"], gates)], TWO_HOP)


def test_gate1_compares_exposed_facts_with_the_matched_control():
    exposed = with_value(PASSING, "base", "twohop_cot", "accuracy", 0.75)
    assert evaluate_gates(exposed, TWO_HOP, 1.0, "both")[1]["passed"] is True
    assert evaluate_gates(PASSING, TWO_HOP, 1.0, "both")[1]["passed"] is False  # 0.0 vs 0.8
    assert evaluate_gates(PASSING, TWO_HOP, 1.0, "hop1")[1]["passed"] is None


def test_the_headline_says_what_recycling_did_and_whether_the_gates_let_it_say_so():
    gates = evaluate_gates(PASSING, TWO_HOP, 0.0, "both")
    text = headline([(PASSING, gates)], TWO_HOP)
    assert text.startswith("Gates passed") and "at most 15 of 150 two-hop questions" in text
    assert "(best: uniform [two])" in text and "0 of 1 answered none" in text and "answered 90 of 150" in text
    failing = with_value(PASSING, "base", "twohop_cot", "subject_accuracy", 0.5)
    text = headline([(failing, evaluate_gates(failing, TWO_HOP, 0.0, "both"))], TWO_HOP)
    assert text.startswith("This run cannot tell") and "gate0" in text
    zeros = [dict(r, correct=0, accuracy=0.0) if r.get("library") else r for r in PASSING]
    text = headline([(zeros, gates)], TWO_HOP)
    assert "None of the 1 recycled models answered any of the 150 two-hop questions" in text and "best" not in text


def test_attribution_is_per_run_and_pooling_counts_only_attributable_runs():
    zero = with_value(PASSING, "uniform", "twohop_cot", "correct", 0)
    failing = with_value(with_value(PASSING, "base", "twohop_cot", "subject_accuracy", 0.5),
                         "uniform", "twohop_cot", "correct", 150)
    runs = [(rows, evaluate_gates(rows, TWO_HOP, 0.0, "both")) for rows in (PASSING, zero, failing)]
    assert [attributable(g) for _, g in runs] == [True, True, False]
    text = headline(runs, TWO_HOP)
    assert text.startswith("Gates passed in 2 of 3 runs")
    over_passed, over_all = text.split("Over all 3 runs:")
    assert "at most 15 of 300" in over_passed and "answered 180 of 300" in over_passed
    assert "at most 165 of 450" in over_all  # the failing run's 150 counts only here


def test_differences_to_the_reference_are_per_split():
    diffs = differences_to_reference(PASSING, ["twohop_cot"])
    assert diffs == [{"model": "uniform", "library": "two", "split": "twohop_cot", "difference": 0.1 - 0.6}]


def test_over_a_given_base_model_the_checks_on_our_pretraining_facts_do_not_apply():
    """A --base-model never saw our pretraining: its matched control is not a failure of the
    setup, and the gates are decided by the remaining checks."""
    from lorarecycle.report.gates import markdown_gates

    unknown = with_value(PASSING, "base", "control_matched_cot", "accuracy", 0.0)
    assert [g["passed"] for g in evaluate_gates(unknown, TWO_HOP, 0.0, "both")] == [False, None, True]
    # in its place the base must compose the facts stated in context, distractor form (>= 0.8)
    assert evaluate_gates(unknown, TWO_HOP, 0.0, "both", own_pretraining=False)[0]["passed"] is None  # not measured
    lookup = [*unknown, row("base", "incontext_distractor_cot", 0.5)]
    assert evaluate_gates(lookup, TWO_HOP, 0.0, "both", own_pretraining=False)[0]["passed"] is False
    unknown = [*unknown, row("base", "incontext_distractor_cot", 0.85)]
    assert evaluate_gates(unknown, TWO_HOP, 0.0, "both")[0]["passed"] is False  # on our base, still a diagnostic
    gates = evaluate_gates(unknown, TWO_HOP, 0.0, "both", own_pretraining=False)
    assert "base incontext_distractor_cot (in context)" in [c["check"] for c in gates[0]["checks"]]
    # a check a gate reads is not listed again among the diagnostics
    assert [d["check"] for d in diagnostics(unknown, TWO_HOP, gates)] == [
        "base incontext_twohop_cot", "union_replay retention"]
    assert "base incontext_distractor_cot" in [d["check"] for d in diagnostics(unknown, TWO_HOP)]
    assert [g["passed"] for g in gates] == [True, None, True] and attributable(gates)
    skipped = [c for g in gates for c in g["checks"] if c["passed"] == "n/a"]
    assert [c["check"] for c in skipped] == ["base control_matched_cot (matched control)"]
    assert markdown_gates(gates).count("not applicable (a --base-model)") == 1
    only_na = evaluate_gates(unknown, TWO_HOP, 1.0, "both", own_pretraining=False)[1]
    assert only_na["passed"] is None  # a gate whose every check is not applicable is not passed
    no_restating = with_value(unknown, "base", "twohop_cot", "subject_accuracy", 0.1)
    assert evaluate_gates(no_restating, TWO_HOP, 0.0, "both", own_pretraining=False)[0]["passed"] is False


def test_composition_given_knowledge_on_hand_made_samples():
    def sample(model, split, chain, correct, library=None):
        return {"model": model, "library": library, "split": split, "chain": chain, "correct": correct}

    # chain c0: both facts known, composed; c1: both known, not composed; c2: hop2 lost, not composed;
    # c3: hop1 lost but composed (a lucky answer: counted right, not given both)
    known = {"c0": (1, 1, 1), "c1": (1, 1, 0), "c2": (1, 0, 0), "c3": (0, 1, 1)}
    samples = [sample("arrow", split, c, bool(v[i]), "two") for c, v in known.items()
               for i, split in enumerate(("hop1", "hop2", "twohop_cot"))]
    samples += [sample("arrow", "hop1", "c9", True, "three")]  # a library without the other splits: left out
    (entry,) = composition_given_knowledge(samples, ("hop1", "hop2"), "twohop_cot")
    assert (entry["model"], entry["library"], entry["n"], entry["both_recalled"]) == ("arrow", "two", 4, 2)
    assert (entry["composed_right"], entry["right_given_both"], entry["given_both"]) == (2, 1, 0.5)
    assert (entry["wrong"], entry["wrong_with_fact_missing"]) == (2, 1)
    assert entry["ci_low"] < 0.5 < entry["ci_high"]
    (pooled,) = pool([entry, entry])
    assert (pooled["n"], pooled["right_given_both"], pooled["both_recalled"], pooled["runs"]) == (8, 2, 4, 2)
    assert pooled["ci_high"] - pooled["ci_low"] < entry["ci_high"] - entry["ci_low"]


def test_the_split_legend_is_the_task_s_own_and_names_only_the_splits_a_run_has():
    from lorarecycle.report.markdown import split_legend
    from lorarecycle.tasks.math import MATH

    def legend(splits, catalog=TWO_HOP):
        return split_legend([{"split": s} for s in splits], catalog)

    ours = legend(("hop1", "hop2", "twohop_cot", "control_cot", "retention"))
    assert "`hop1`/`hop2`" in ours and "`control_*`" in ours and "`retention`" in ours and "`math_*`" not in ours
    assert "not pretrained by it" not in ours and "`incontext_twohop_*`" not in ours
    assert "`incontext_twohop_*`" in legend(("incontext_twohop_cot", "hop1"))
    theirs = legend(("hop1", "hop2", "twohop_direct", "twohop_cot"))
    assert "`control_*`" not in theirs and "`retention`" not in theirs and "not pretrained by it" in theirs
    math = legend(("knowledge", "procedure", "math_cot", "arithmetic"), MATH)
    assert "`math_*`" in math and "`arithmetic`" in math and "`hop1`" not in math and "`twohop_*`" not in math
    math_control = legend(("knowledge", "math_cot", "control_cot", "retention"), MATH)
    assert "`control_*`" in math_control and "control-m" not in math_control and "familiar items" in math_control


def test_the_report_pools_composition_over_the_attributable_runs_and_renders_each_table_apart():
    from lorarecycle.report.grid import _composition_html, composition_section

    entry = {"model": "arrow", "library": "two", "n": 10, "both_recalled": 4, "composed_right": 1,
             "right_given_both": 1, "wrong": 9, "wrong_with_fact_missing": 6}
    passing = evaluate_gates(PASSING, TWO_HOP, 0.0, "both")
    failing = evaluate_gates(with_value(PASSING, "base", "twohop_cot", "subject_accuracy", 0.5), TWO_HOP, 0.0, "both")
    blocks = composition_section([("seed=0", PASSING, passing), ("seed=1", PASSING, failing)], [[entry], [entry]])
    assert [caption for caption, _ in blocks] == ["Over the 1 runs whose gates passed:", "Over all 2 runs:"]
    assert [e["both_recalled"] for _, (e,) in blocks] == [4, 8]
    out = _composition_html(blocks)
    assert out.count("<table>") == 2 and out.count("<th>model [library]</th>") == 2
    assert "<td>arrow [two]</td>" in out and "<td>1/4 = 0.25" in out
    (only,) = composition_section([("seed=0", PASSING, passing)], [[entry]])
    assert only[0] == "" and only[1][0]["n"] == 10


def test_rescoring_a_run_reproduces_the_pipelines_step_scores(smoke_run, tmp_path):
    """scripts/rescore_steps.py re-reads steps from the generations: on a run scored by the
    current parser it changes nothing, and a step field altered by hand is restored."""
    import json
    import runpy
    import shutil

    root, _ = smoke_run
    out = tmp_path / "run"
    shutil.copytree(root / "run", out)
    before = (out / "results.jsonl").read_text()
    lines = (out / "samples.jsonl").read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if "first_hop_correct" in line)
    sample = json.loads(lines[index])
    sample["first_hop_correct"] = not sample["first_hop_correct"]
    (out / "samples.jsonl").write_text("\n".join([*lines[:index], json.dumps(sample), *lines[index + 1:]]) + "\n")
    script = Path(__file__).resolve().parents[1] / "scripts" / "rescore_steps.py"
    runpy.run_path(str(script))["main"](out)
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert rows == [json.loads(line) for line in (root / "run" / "samples.jsonl").read_text().splitlines()]
    assert [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()] == \
        [json.loads(line) for line in before.splitlines()]
    assert json.loads((out / "run.json").read_text())["gates"] == json.loads((root / "run" / "run.json").read_text())["gates"]
