"""Grids: expansion, validation before training, resume after SIGKILL, Ray vs local."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lorarecycle.errors import UserError
from lorarecycle.tasks.two_hop import TWO_HOP
from lorarecycle.sweep.grid import expand, validate_grid

from .helpers import child_env, cli, first_heading_block

TINY = """name: tiny-grid
experiment:
  preset: smoke
  world: {n_test_chains: 8, n_skill_chains: 4, n_fewshot_chains: 2, n_familiar: 16, n_pretrain_paths: 20, n_control_paths: 6,
          n_control_matched: 2, n_incontext: 0}
  experts: {recipe: plain}  # grid mechanics only: the cheaper recipe
  methods: [{name: uniform_delta}, {name: arrow}]
  references: [union]
  libraries: [two]
axes:
"""


def grid_file(tmp_path: Path, axes: str, name: str = "grid.yaml", extra: str = "") -> Path:
    path = tmp_path / name
    path.write_text(TINY + axes + extra)
    return path


def rows_by_key(run_dir: Path) -> dict:
    rows = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    keys = [(r["cell"], r["model"], r["library"], r["split"]) for r in rows]
    assert len(keys) == len(set(keys)), "duplicate rows"
    return {k: r["accuracy"] for k, r in zip(keys, rows)}


def test_expand_orders_cells_and_applies_axes():
    grid = validate_grid({"name": "g", "experiment": {"preset": "smoke"},
                          "axes": {"world.familiarity": ["F", "H", "R"], "seed": [0, 1],
                                   "libraries": [{"two": ["hop1", "hop2"]}, {"all": ["hop1", "hop2", "skill"]}]}}, "t")
    cells = expand(grid)
    assert len(cells) == 12 and len({c.id for c in cells}) == 12
    assert [c.config.world.familiarity for c in cells[:4]] == ["F"] * 4
    assert [c.config.seed for c in cells[:4]] == [0, 0, 1, 1]
    assert cells[1].config.libraries == {"all": ["hop1", "hop2", "skill"]}
    assert cells[0].config.lora == cells[-1].config.lora  # untouched fields come from the template


@pytest.mark.parametrize(("axes", "message"), [
    ({"world.familarity": ["F"]}, "axis 'world.familarity': no config field 'familarity'"),
    ({"seed": []}, "axis 'seed' is empty"),
    ({"world.familiarity": ["F", "X"]}, "cell world.familiarity=X: field world.familiarity"),
    ({"libraries": [{"mine": ["hop1", "hop9"]}]}, "names expert 'hop9', which does not exist"),
    ({"seed": [0, 0]}, "two cells have the same config"),
])
def test_invalid_grids_are_refused(axes, message):
    grid = validate_grid({"name": "g", "experiment": {"preset": "smoke"}, "axes": axes}, "t")
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        expand(grid)


def test_invalid_grid_fails_before_anything_is_written(tmp_path):
    path = grid_file(tmp_path, "  methods: [[{name: arrow, params: {top_k: 3}}]]\n")
    result = cli("run", str(path), "--out", str(tmp_path / "out"), cache=tmp_path / "cache")
    assert result.returncode == 2 and "top_k=3" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid")
    path = grid_file(root, "  seed: [0, 1]\n  world.familiarity: [F, R]\n")
    result = cli("run", str(path), "--out", str(root / "run"), cache=root / "cache")
    assert result.returncode == 0, result.stderr[-3000:]
    return root, path


def test_grid_runs_every_cell_and_reports(uninterrupted):
    root, _ = uninterrupted
    acc = rows_by_key(root / "run")
    per_cell = 6 * len(TWO_HOP.test_splits) + len(TWO_HOP.base_checks)  # rows x splits + the base's own checks
    assert len({k[0] for k in acc}) == 4 and len(acc) == 4 * per_cell
    html = (root / "run" / "report.html").read_text()
    composition = (root / "run" / "figures" / "composition.png").is_file()  # drawn where a model knows both facts
    assert html.count("data:image/png;base64,") == 3 + composition  # library vs expert, familiarity, errors: embedded
    assert "Gates per run" in html and html.count("<td>NO</td>") == 4  # smoke-sized cells fail the gates
    heading = first_heading_block(root / "run" / "report.html")
    assert heading[1].startswith("Gates passed in 0 of 4 runs (seeds or cells). No run can tell")
    report = (root / "run" / "report.md").read_text()
    assert "figures/familiarity.png" in report and "oracle_expert [two]" in report
    status = cli("status", str(root / "run"), cache=root / "cache")
    assert status.returncode == 0 and "4/4 cells done" in status.stdout
    # the base model and the experts are shared by content hash, not retrained per cell
    assert len(list((root / "cache" / "adapters").glob("hop1-*"))) == 4  # 2 seeds x 2 worlds


@pytest.mark.slow  # 3 min; single-run SIGKILL resume at four stages: tests/test_cli.py (slow too)
def test_sigkill_mid_grid_then_rerun_completes_with_identical_rows(uninterrupted, tmp_path):
    root, path = uninterrupted
    out = tmp_path / "run"
    env = child_env(tmp_path / "cache")
    proc = subprocess.Popen([sys.executable, "-m", "lorarecycle.cli.main", "run", str(path), "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    # kill once some cell has part of its rows: mid-evaluation, not between cells
    while time.time() < deadline and proc.poll() is None:
        counts = [len(p.read_text().splitlines()) for p in out.glob("cells/*/results.jsonl")]
        if len(counts) >= 2 and any(0 < c < 36 for c in counts):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the grid finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    status = cli("status", str(out), cache=tmp_path / "cache")
    assert "partial" in status.stdout or "pending" in status.stdout
    result = cli("run", str(path), "--out", str(out), cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr[-3000:]
    assert rows_by_key(out) == rows_by_key(root / "run")


@pytest.mark.slow  # 2 min: starts a local Ray; the optional extra's check
def test_ray_executor_gives_the_same_rows_as_local(uninterrupted, tmp_path):
    pytest.importorskip("ray")
    root, _ = uninterrupted
    path = grid_file(tmp_path, "  seed: [0, 1]\n", extra="executor: {name: ray, num_cpus: 2}\n")
    local = grid_file(tmp_path, "  seed: [0, 1]\n", name="local.yaml")
    ray_run = cli("run", str(path), "--out", str(tmp_path / "ray"), cache=tmp_path / "cache")
    assert ray_run.returncode == 0, ray_run.stderr[-3000:]
    local_run = cli("run", str(local), "--out", str(tmp_path / "local"), cache=tmp_path / "cache2")
    assert local_run.returncode == 0, local_run.stderr[-3000:]
    assert rows_by_key(tmp_path / "ray") == rows_by_key(tmp_path / "local")


def test_a_grid_runs_only_the_cells_named_and_labels_their_rows(uninterrupted, tmp_path):
    """`--cell ID` runs that cell alone, its rows labelled as the whole grid labels them; a name
    that is not one of the grid's cells is refused in one line before anything is written."""
    root, path = uninterrupted
    cell = sorted(p.name for p in (root / "run" / "cells").iterdir())[0]
    out = tmp_path / "run"
    refused = cli("run", str(path), "--cell", "nope", "--out", str(out), cache=root / "cache")
    assert refused.returncode == 2 and "--cell: no cell 'nope' in grid" in refused.stderr and cell in refused.stderr
    assert "Traceback" not in refused.stderr and not out.exists()
    result = cli("run", str(path), "--cell", cell, "--out", str(out), cache=root / "cache")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "4 cells, 0 done, 1 to run" in result.stderr + result.stdout
    assert rows_by_key(out) == {k: v for k, v in rows_by_key(root / "run").items() if k[0] == cell}
    assert {json.dumps(r["axes"]) for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())} == \
        {json.dumps(r["axes"]) for r in map(json.loads, (root / "run" / "results.jsonl").read_text().splitlines())
         if r["cell"] == cell}
