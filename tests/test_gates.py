"""Gates and step-by-step scoring against hand-checked rows and samples."""

from lorarecycle.evaluate.evaluator import score_steps, summarize_steps
from lorarecycle.report.gates import attributable, differences_to_reference, evaluate_gates, verdict
from lorarecycle.tasks.math import templates as M
from lorarecycle.tasks.two_hop import TWO_HOP
from lorarecycle.tasks.example import Example
from lorarecycle.tasks.two_hop.templates import cot_steps

EX = Example("cot:test-0", "cot", "Question: Who is the employer of the mentor of Vize Zoli? Reasoning:",
             " The mentor of Vize Zoli is Bove Saru. The employer of Bove Saru is Kato Rimu. So the answer is Kato Rimu.",
             "Kato Rimu", "test-0", "Bove Saru", "Vize Zoli")


def steps(generation):
    return score_steps(cot_steps(generation), EX)


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


def test_second_hop_is_scored_given_a_right_first_hop():
    samples = [{"subject_correct": True, "first_hop_correct": True, "second_hop_correct": True},
               {"subject_correct": True, "first_hop_correct": True, "second_hop_correct": False},
               {"subject_correct": False, "first_hop_correct": False, "second_hop_correct": True}]
    assert summarize_steps(samples) == {"subject_accuracy": 2 / 3, "first_hop_accuracy": 2 / 3,
                                        "second_hop_given_first": 0.5}
    assert summarize_steps(samples[2:])["second_hop_given_first"] is None


def test_math_steps():
    assert M.cot_steps(" A bag of Kato costs 3 coins. 4 times 3 is 12. So the answer is 12.") == ("kato", "3", "12")
    assert M.cot_steps(" A bag of Rimu costs 3 coins. 4 times 3 is") == ("rimu", "3", "")


def row(model, split, accuracy, library=None, **extra):
    return {"model": model, "library": library, "split": split, "accuracy": accuracy, "ci_low": accuracy - 0.08,
            **extra}


PASSING = [row("base", "twohop_cot", 0.0, subject_accuracy=0.97), row("base", "incontext_twohop_cot", 0.9),
           row("base", "control_cot", 0.8), row("union_replay", "hop1", 1.0), row("union_replay", "hop2", 0.96),
           row("union_replay", "retention", 0.95), row("union_replay", "twohop_cot", 0.6, first_hop_accuracy=0.9),
           row("uniform", "twohop_cot", 0.1, library="two")]


def test_gates_pass_on_working_controls():
    gates = evaluate_gates(PASSING, TWO_HOP, exposure=0.0, exposure_hop="both")
    assert [g["passed"] for g in gates] == [True, None, True]  # gate 1 needs exposure 1.0
    assert attributable(gates) and verdict(gates).startswith("Gates passed")


def test_a_failed_or_missing_control_makes_recycled_rows_unattributable():
    no_copy = [r if r["split"] != "twohop_cot" or r["model"] != "base" else {**r, "subject_accuracy": 0.0}
               for r in PASSING]
    gates = evaluate_gates(no_copy, TWO_HOP, 0.0, "both")
    assert gates[0]["passed"] is False and gates[0]["checks"][0]["value"] == 0.0
    assert not attributable(gates) and "GATES FAILED (gate0)" in verdict(gates)
    without_reference = [r for r in PASSING if r["model"] != "union_replay"]
    gates = evaluate_gates(without_reference, TWO_HOP, 0.0, "both")
    assert gates[2]["passed"] is None and not attributable(gates)
    assert "gate2 (not measured)" in verdict(gates)


def test_gate1_compares_exposed_facts_with_the_matched_control():
    rows = [*PASSING[:2], row("base", "control_cot", 0.8), *PASSING[3:]]
    exposed = [{**r, "accuracy": 0.75} if (r["model"], r["split"]) == ("base", "twohop_cot") else r for r in rows]
    assert evaluate_gates(exposed, TWO_HOP, 1.0, "both")[1]["passed"] is True
    assert evaluate_gates(rows, TWO_HOP, 1.0, "both")[1]["passed"] is False  # 0.0 vs 0.8
    assert evaluate_gates(rows, TWO_HOP, 1.0, "hop1")[1]["passed"] is None


def test_differences_to_the_reference_are_per_split():
    diffs = differences_to_reference(PASSING, ["twohop_cot"])
    assert diffs == [{"model": "uniform", "library": "two", "split": "twohop_cot", "difference": 0.1 - 0.6}]


def test_over_a_given_base_model_the_checks_on_our_pretraining_facts_do_not_apply():
    """A --base-model never saw our pretraining: its matched control and retention are not
    failures of the setup, and the gates are decided by the remaining checks."""
    from lorarecycle.report.gates import markdown_gates

    unknown = [{**r, "accuracy": 0.0} if r["split"] in ("control_cot", "retention") else r for r in PASSING]
    assert [g["passed"] for g in evaluate_gates(unknown, TWO_HOP, 0.0, "both")] == [False, None, False]
    gates = evaluate_gates(unknown, TWO_HOP, 0.0, "both", own_pretraining=False)
    assert [g["passed"] for g in gates] == [True, None, True] and attributable(gates)
    skipped = [c for g in gates for c in g["checks"] if c["passed"] == "n/a"]
    assert [c["check"] for c in skipped] == ["base control_cot (matched control)", "union_replay retention"]
    assert markdown_gates(gates).count("not applicable (a --base-model)") == 2
    # the checks that do apply still fail the gate
    only_na = evaluate_gates(unknown, TWO_HOP, 1.0, "both", own_pretraining=False)[1]
    assert only_na["passed"] is None  # a gate whose every check is not applicable is not passed
    no_compose = [{**r, "accuracy": 0.1} if (r["model"], r["split"]) == ("base", "incontext_twohop_cot") else r
                  for r in unknown]
    assert evaluate_gates(no_compose, TWO_HOP, 0.0, "both", own_pretraining=False)[0]["passed"] is False


def test_the_split_legend_is_the_task_s_own_and_names_only_the_splits_a_run_has():
    from lorarecycle.report.markdown import split_legend
    from lorarecycle.tasks.math import MATH

    def legend(splits, catalog=TWO_HOP):
        return split_legend([{"split": s} for s in splits], catalog)

    ours = legend(("hop1", "hop2", "twohop_cot", "control_cot", "retention"))
    assert "`hop1`/`hop2`" in ours and "`control_*`" in ours and "`retention`" in ours and "`math_*`" not in ours
    assert "not pretrained by it" not in ours and "`control-m*`" in ours and "`incontext_twohop_*`" not in ours
    assert "`incontext_twohop_*`" in legend(("incontext_twohop_cot", "hop1"))
    theirs = legend(("hop1", "hop2", "twohop_direct", "twohop_cot"))
    assert "`control_*`" not in theirs and "`retention`" not in theirs and "not pretrained by it" in theirs
    math = legend(("knowledge", "procedure", "math_cot", "arithmetic"), MATH)
    assert "`math_*`" in math and "`arithmetic`" in math and "`hop1`" not in math and "`twohop_*`" not in math
    math_control = legend(("knowledge", "math_cot", "control_cot", "retention"), MATH)
    assert "`control_*`" in math_control and "control-m" not in math_control and "familiar items" in math_control
