"""Where a run's wall time went (run.json's "seconds"), from the stages' metadata and the
evaluation timings the run directory holds."""

from __future__ import annotations

from pathlib import Path

from .artifacts import read_jsonl
from .layout import TIMINGS_FILE


def run_seconds(out: Path, pretrain: dict | None, stages: dict, adapters_now: float, invocation: float) -> dict:
    """Training: the base's pretraining and each adapter's own training time (also when they
    came from the cache); evaluation: summed over every (model, split) this directory holds
    (sums of parallel jobs can exceed the wall time)."""
    timings = read_jsonl(out / TIMINGS_FILE) if (out / TIMINGS_FILE).is_file() else []
    evaluation = {part: round(sum(t.get(part, 0.0) for t in timings), 1) for part in ("build", "generation", "loglik")}
    training = {name: meta["train"]["seconds"] for name, meta in stages.items() if meta and "train" in meta}
    if pretrain:  # the built-in base (a --base-model was trained elsewhere)
        training["pretraining"] = round(pretrain["seconds"] + pretrain.get("layout_warmup", {}).get("seconds", 0.0), 1)
    return {"training": {"total": round(sum(training.values()), 1), **training}, "evaluation": evaluation,
            "adapter_stage_this_invocation": round(adapters_now, 1), "this_invocation": round(invocation, 1)}
