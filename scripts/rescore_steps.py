"""Re-read the reasoning steps of a finished run's chain-of-thought generations with the
current step parser, without running a model: every sample's step fields, the result rows'
step accuracies, run.json's gates and verdict, and report.md are rewritten; the generations,
exact match and log-likelihood ranks are left as they are. For a run scored before a parser
change (the two-hop parser reads each hop's relation since it was found to accept a hop
stated under the wrong relation).

    python scripts/rescore_steps.py RUN_DIR      # one run, or one cell of a grid
    lorarecycle report RUN_DIR                   # then report.html and the figures

Prints, per (model, library, split) whose steps changed, the accuracies before and after.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import yaml

from lorarecycle.artifacts import atomic_write_text, read_json, read_jsonl, write_json, write_jsonl
from lorarecycle.config import ExperimentConfig
from lorarecycle.errors import UserError
from lorarecycle.evaluate.evaluator import score_steps, summarize_steps
from lorarecycle.evaluate.oracle import oracle_rows
from lorarecycle.layout import RESULTS_FILE, SAMPLES_FILE
from lorarecycle.report.markdown import render_report
from lorarecycle.report.verdict import verdict_fields
from lorarecycle.tasks import task_of

STEP_FIELDS = ("subject_accuracy", "first_hop_accuracy", "second_hop_given_first")


def main(out: Path) -> None:
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    resolved.pop("config_hash", None)
    cfg = ExperimentConfig.model_validate(resolved)
    task = task_of(cfg)
    _, datasets = task.build(cfg)
    completions = {ex.id: ex.completion for split in datasets.values() for ex in split}
    samples, results = read_jsonl(out / SAMPLES_FILE), read_jsonl(out / RESULTS_FILE)
    groups = defaultdict(list)
    for sample in samples:
        if "first_hop_correct" in sample:
            if sample["id"] not in completions:
                raise UserError(f"{out / SAMPLES_FILE}: example {sample['id']} is not in the data of "
                                f"{out / 'config.yaml'}")
            gold = task.cot_steps(completions[sample["id"]])
            sample.update(score_steps(task.cot_steps(sample["generation"]), gold, sample["id"]))
            groups[sample["model"], sample["library"], sample["split"]].append(sample)
    for row in results:
        key = row["model"], row["library"], row["split"]
        if key in groups:
            before = {f: row[f] for f in STEP_FIELDS}
            row.update(summarize_steps(groups[key]))
            if before != {f: row[f] for f in STEP_FIELDS}:
                print(" ".join(str(k) for k in key if k), before, "->", {f: row[f] for f in STEP_FIELDS})
    write_jsonl(out / SAMPLES_FILE, samples)
    write_jsonl(out / RESULTS_FILE, results)
    manifest = read_json(out / "run.json") | verdict_fields(cfg, out, results)
    write_json(out / "run.json", manifest)
    atomic_write_text(out / "report.md", render_report(manifest, results + oracle_rows(results, cfg.libraries),
                                                       task.catalog))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
