"""Exact-match scoring, answer extraction, intervals, error taxonomy."""

import pytest

from lorarecycle.evaluate.metrics import classify_error, wilson_interval
from lorarecycle.tasks.text import extract_answer, normalize
from lorarecycle.tasks.two_hop.templates import extract_first_hop


@pytest.mark.parametrize(
    ("generation", "kind", "expected"),
    [
        (" Kato Rimu.", "fact", "kato rimu"),
        (" kato rimu. The mentor of", "direct", "kato rimu"),
        ("Kato  Rimu\nmore text", "fact", "kato rimu"),
        (" the mentor of a b is c d. the employer of c d is e f. so the answer is e f.", "cot", "e f"),
        (" the mentor of a b is c d. the employer of c d is e f.", "cot", ""),
        ("", "fact", ""),
    ],
)
def test_extract_answer(generation, kind, expected):
    assert extract_answer(generation, kind) == expected


def test_exact_match_is_whole_answer_not_prefix():
    assert extract_answer(" Kato Rimuzo.", "fact") != normalize("Kato Rimu")
    assert extract_answer(" Kato.", "fact") != normalize("Kato Rimu")


def test_first_hop_of_cot():
    assert extract_first_hop(" the mentor of a b is c d. the employer") == "c d"
    assert extract_first_hop(" nonsense") == ""


def test_wilson_interval_matches_reference_values():
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and high == pytest.approx(0.1611, abs=1e-4)
    assert wilson_interval(20, 20)[1] == 1.0


def test_error_taxonomy():
    entities = {"a b", "c d", "e f"}
    assert classify_error("c d", "c d", entities) == "bridge"
    assert classify_error("a b", "c d", entities) == "other_entity"
    assert classify_error("zz", "c d", entities) == "other"


@pytest.mark.parametrize("n", [1, 7, 12, 50, 100, 150, 1000])
def test_wilson_interval_always_contains_the_estimate(n):
    for correct in (0, 1, n // 2, n - 1, n):
        low, high = wilson_interval(correct, n)
        assert 0.0 <= low <= correct / n <= high <= 1.0
    assert wilson_interval(0, n)[0] == 0.0 and wilson_interval(n, n)[1] == 1.0


def test_plain_progress_lines_are_rate_limited_and_end_with_done():
    from lorarecycle.ui import plain_progress

    now, lines = [0.0], []
    with plain_progress("training expert hop1", 100, interval=10.0, clock=lambda: now[0], emit=lines.append) as advance:
        for step in range(100):
            now[0] = step * 0.5  # 50 s in all: a line at 0, 10, 20, 30, 40 s
            advance(info=f"loss {1 / (step + 1):.3f}")
    assert len(lines) == 7 and lines[-1].endswith("done") and "eta" not in lines[-1]  # a stage may stop early
    assert lines[0] == "training expert hop1: 0/100 0s -"  # at the start, before a slow first step
    assert lines[1] == "training expert hop1: 1/100 0s - loss 1.000"
    assert lines[2].startswith("training expert hop1: 21/100 10s 2.10/s eta 38s loss 0.048")  # 79 steps at 2.1/s
    with plain_progress("x", 2, interval=10.0, clock=lambda: 0.0, emit=lines.append) as advance:
        advance()
        advance(0, info="epoch 1 check: recall 0.50", force=True)  # within the interval, printed anyway
    assert lines[-2] == "x: 1/2 0s - epoch 1 check: recall 0.50"
