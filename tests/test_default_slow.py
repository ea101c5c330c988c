"""The README's main job, end to end (minutes): `make test-slow`."""

from __future__ import annotations

import pytest

from .test_cli import accuracies, cli


@pytest.mark.slow
def test_default_experiment_meets_its_acceptance_bars(tmp_path):
    result = cli("run", "--preset", "default", "--out", str(tmp_path / "run"), cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr[-3000:]
    acc = accuracies(tmp_path / "run")
    assert acc[("expert:hop1", None, "hop1")] >= 0.9 and acc[("expert:hop2", None, "hop2")] >= 0.9
    for split in ("hop1", "hop2", "twohop_direct", "twohop_cot"):
        assert acc[("base", None, split)] <= 0.05
    report = (tmp_path / "run" / "report.md").read_text()
    for row in ("arrow-two", "arrow_top2-three", "select_arrow-two"):
        assert (tmp_path / "run" / "figures" / f"routing-{row}.png").is_file() and f"routing-{row}.png" in report
