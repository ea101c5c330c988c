"""The README's main job, end to end (minutes): `make test-slow`."""

from __future__ import annotations

import json

import pytest

from .helpers import accuracies, cli


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("default")
    result = cli("run", "--preset", "default", "--out", str(root / "run"), cache=root / "cache")
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "run", result


@pytest.mark.slow
def test_default_experiment_meets_its_acceptance_bars(default_run):
    out, result = default_run
    acc = accuracies(out)
    assert acc[("expert:hop1", None, "hop1")] >= 0.9 and acc[("expert:hop2", None, "hop2")] >= 0.9
    for split in ("hop1", "hop2", "twohop_direct", "twohop_cot"):
        assert acc[("base", None, split)] <= 0.05
    report = (out / "report.md").read_text()
    for row in ("arrow-two", "arrow_top2-three", "select_arrow-two"):
        assert (out / "figures" / f"routing-{row}.png").is_file() and f"routing-{row}.png" in report
    manifest = json.loads((out / "run.json").read_text())
    verdict = "Gates passed" if manifest["attributable"] else "GATES FAILED"
    assert verdict in result.stdout and verdict in report


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue 13: the default base composes facts given in context 0.03-0.69 across "
                   "seeds and CPUs (Gate 0 needs 0.8), and union_replay keeps 0.61 of the held-out old facts "
                   "(Gate 2's retention needs 0.9); "
                   "flips to a pass when the controls work")
def test_default_experiment_passes_its_gates(default_run):
    manifest = json.loads((default_run[0] / "run.json").read_text())
    gates = {g["gate"]: g["passed"] for g in manifest["gates"]}
    assert gates["gate0"] and gates["gate2"]
