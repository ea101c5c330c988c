"""Faults at every stage of a run: an interrupt (SIGINT, SIGTERM) exits in one line and the
same command resumes; a killed process group (SIGKILL) at four stages leaves a directory the
same command finishes. Each time the rows and the samples equal the uninterrupted run's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from .helpers import accuracies, child_env, cli


def samples(out) -> list[str]:
    """Every generation of a run, in a canonical order (jobs land in any order)."""
    return sorted(json.dumps(json.loads(line), sort_keys=True) for line in (out / "samples.jsonl").read_text().splitlines())


def start_run(out, env, **popen) -> subprocess.Popen:
    # SIGINT restored to its default in the child: a job started in the background of a
    # non-interactive shell (CI scripts, `cmd &`) inherits SIGINT ignored, as POSIX asks, and
    # Python keeps an ignored SIGINT ignored
    return subprocess.Popen([sys.executable, "-m", "lorarecycle.cli.main", "run", "--preset", "smoke", "--out", str(out)],
                            env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **popen)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_exits_in_one_line_and_the_rerun_resumes_to_the_same_rows_and_samples(smoke_run, tmp_path,
                                                                                            signum, code):
    root, _ = smoke_run
    out = tmp_path / "run"
    proc = start_run(out, child_env(root / "cache"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600  # the smoke run's cache: straight to evaluation
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "results.jsonl").is_file() and len((out / "results.jsonl").read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    proc.send_signal(signum)  # once, as a user presses Ctrl-C or a scheduler stops the job
    stderr = proc.communicate(timeout=120)[1]
    assert proc.returncode == code, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == "error: interrupted; re-run the same command to resume"
    again = cli("run", "--preset", "smoke", "--out", str(out), cache=root / "cache")
    assert again.returncode == 0, again.stderr[-3000:]
    assert accuracies(out) == accuracies(root / "run")
    assert len((out / "results.jsonl").read_text().splitlines()) == len(accuracies(out))  # no duplicate rows
    assert samples(out) == samples(root / "run")
    assert not list(out.rglob(".*.tmp"))


@pytest.mark.slow
def test_sigkill_at_four_stages_then_resume_gives_the_uninterrupted_rows_and_samples(smoke_run, tmp_path):
    """The whole process group is killed (as by the OOM killer or a lost machine) during
    pretraining, expert training, evaluation and report writing in turn; each re-run picks up
    from what the last left, and the final rows and samples equal the uninterrupted run's."""
    root, _ = smoke_run
    out, cache = tmp_path / "run", tmp_path / "cache"
    env = child_env(cache)

    def rows() -> int:
        path = out / "results.jsonl"
        return len(path.read_text().splitlines()) if path.is_file() else 0

    stages = {
        "pretraining": lambda log: "pretraining" in log,
        "expert training": lambda log: "training expert" in log,
        "evaluation": lambda log: rows() >= 3,
        "report writing": None,  # too short to hit from outside: the run kills itself there
    }
    for stage, reached in stages.items():
        log_path = tmp_path / f"{stage}.log"
        with open(log_path, "w") as log:
            crash = {"LORARECYCLE_CRASH_AT": "report"} if reached is None else {}
            proc = start_run(out, {**env, **crash}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            if reached is None:
                assert proc.wait(timeout=900) == -signal.SIGKILL and not (out / "report.md").exists()
                continue
            deadline = time.monotonic() + 900
            while proc.poll() is None and time.monotonic() < deadline and not reached(log_path.read_text()):
                time.sleep(0.05)
            assert proc.poll() is None, f"the run ended before {stage}: {log_path.read_text()[-2000:]}"
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    again = cli("run", "--preset", "smoke", "--out", str(out), cache=cache)
    assert again.returncode == 0, again.stderr[-3000:]
    assert accuracies(out) == accuracies(root / "run")
    assert rows() == len(accuracies(out))  # no duplicate rows
    assert samples(out) == samples(root / "run")
    assert not list(out.rglob(".*.tmp")) and (out / "report.md").is_file()


def test_controls_only_trains_and_evaluates_what_the_gates_read_then_the_full_run_resumes_there(smoke_run, tmp_path):
    root, _ = smoke_run
    out, fresh = tmp_path / "run", tmp_path / "cache"
    first = cli("run", "--preset", "smoke", "--controls-only", "--out", str(out), cache=fresh)
    assert first.returncode == 0, first.stderr[-3000:]
    controls = accuracies(out)
    assert {model for model, _, _ in controls} == {"base", "union_replay"}
    trained = [p.name.split("-")[0] for p in (fresh / "adapters").iterdir() if not p.name.startswith(".")]
    assert trained == ["union_replay"]  # no expert trained (a lock file beside it is not an adapter)
    assert "Controls only" in (out / "report.md").read_text()
    assert json.loads((out / "run.json").read_text())["controls_only"] is True
    full = accuracies(root / "run")
    assert controls == {key: acc for key, acc in full.items() if key[0] in ("base", "union_replay")}
    # the same command without the flag adds the rest (the smoke run's cache holds its experts)
    second = cli("run", "--preset", "smoke", "--out", str(out), cache=root / "cache")
    assert second.returncode == 0, second.stderr[-3000:]
    assert accuracies(out) == full
    assert samples(out) == samples(root / "run")
